"""The laptop's side of the car service's HTTP API, standard library only (urllib).

urllib is enough for a handful of JSON calls and one streamed upload, and
keeps `racekit flash` free of another dependency. The token is found, in
order, in: the caller's argument (--token), $RACEKIT_CAR_TOKEN, the config
file ($RACEKIT_CAR_CONFIG, else ~/.config/racekit/car.toml):

    url = "http://192.168.1.50:8080"        # the default car
    token = "..."                            # its token
    [cars."http://192.168.1.51:8080"]       # other cars, by URL
    token = "..."
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import tomllib
import urllib.error
import urllib.parse
import urllib.request

ENV_TOKEN = "RACEKIT_CAR_TOKEN"
ENV_CONFIG = "RACEKIT_CAR_CONFIG"
TIMEOUT_S = 10.0  # every call; start and stop answer within a few seconds on the car
UPLOAD_TIMEOUT_S = 120.0  # per socket operation: the car checks the model before it answers


class CarError(Exception):
    """The car refused (status = its HTTP status) or could not be reached (status None)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def config_path(env=os.environ) -> str:
    if env.get(ENV_CONFIG):
        return env[ENV_CONFIG]
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "racekit", "car.toml")


def _read_config(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise CarError(f"{path}: cannot read the car config ({exc})") from None


def resolve(url: str | None, token: str | None, env=os.environ) -> tuple[str, str]:
    """(car URL, token) from the arguments, the environment and the config file; CarError if missing."""
    path = config_path(env)
    config = _read_config(path)
    url = (url or config.get("url") or "").rstrip("/")
    if not url:
        raise CarError(f"which car? give --car http://HOST:PORT (or url = \"...\" in {path})")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise CarError(f"--car {url}: expected http://HOST:PORT")
    per_car = config.get("cars", {}).get(url, {}) if isinstance(config.get("cars"), dict) else {}
    token = token or env.get(ENV_TOKEN) or per_car.get("token") or config.get("token")
    if not token:
        raise CarError(f"no token for {url}: set {ENV_TOKEN}, pass --token, or put token = \"...\" in {path} "
                       "(the car printed it on its first start)")
    return url, str(token)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CarClient:
    def __init__(self, url: str, token: str, timeout_s: float = TIMEOUT_S):
        self.url = url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s
        # No proxies: the car is on the local network, and a proxy set in the environment
        # for the internet must never see the car's token.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def request(self, method: str, path: str, body=None, headers: dict | None = None,
                timeout_s: float | None = None) -> dict:
        """One call; the decoded JSON answer, or CarError with the car's own message."""
        headers = dict(headers or {}, Authorization=f"Bearer {self._token}", Accept="application/json")
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=timeout_s or self.timeout_s) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            try:
                message = json.loads(raw).get("error") or raw.decode(errors="replace")
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace")[:200] or exc.reason
            if exc.code == 401:
                message = "the car refused the token (401): check RACEKIT_CAR_TOKEN / --token"
            raise CarError(f"{method} {path}: {message}", exc.code) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:  # refused, timed out, cut off
            reason = getattr(exc, "reason", exc)
            raise CarError(f"cannot reach the car at {self.url} ({reason})") from None
        except ValueError:
            raise CarError(f"{method} {path}: the answer is not JSON (is {self.url} a racekit car?)") from None

    def health(self) -> dict:
        return self.request("GET", "/health")

    def status(self) -> dict:
        return self.request("GET", "/api/status")

    def models(self) -> dict:
        return self.request("GET", "/api/models")

    def upload(self, path: str, name: str | None = None, activate: bool = False,
               sha256: str | None = None) -> dict:
        """Stream the file to the car with its sha256; the car's record of it."""
        name = name or os.path.basename(path)
        sha256 = sha256 or file_sha256(path)
        query = "?activate=1" if activate else ""
        with open(path, "rb") as fh:  # urllib streams a file body in blocks, never whole in memory
            return self.request("PUT", f"/api/models/{urllib.parse.quote(name, safe='')}{query}", body=fh,
                                headers={"Content-Length": str(os.fstat(fh.fileno()).st_size),
                                         "Content-Type": "application/octet-stream",
                                         "X-Content-Sha256": sha256},
                                timeout_s=UPLOAD_TIMEOUT_S)

    def activate(self, sha256: str) -> dict:
        return self.request("POST", f"/api/models/{sha256}/activate")

    def rollback(self) -> dict:
        return self.request("POST", "/api/rollback")

    def start(self, max_speed: float | None = None) -> dict:
        return self.request("POST", "/api/start", body={} if max_speed is None else {"max_speed": max_speed})

    def stop(self) -> dict:
        return self.request("POST", "/api/stop")

    def estop(self) -> dict:
        return self.request("POST", "/api/estop")

    def clear_estop(self) -> dict:
        return self.request("POST", "/api/estop/clear")

    def calibration(self) -> dict:
        return self.request("GET", "/api/calibration")

    def set_calibration(self, values: dict) -> dict:
        return self.request("PUT", "/api/calibration", body=values)
