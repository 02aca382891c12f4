"""Who may use the console.

Bound to this machine (127.0.0.1, the default) it needs no token, but a request must name this machine
as its Host (a web page elsewhere cannot reach it through a DNS name of its own), and one that changes
something must not come from another site's page (its Origin) and must be JSON or an upload's raw bytes
(which a page elsewhere cannot send without asking first). A reward function is code this machine runs: bound to any other
address the console refuses to start without a token, and then every request but the login carries it,
in a header or in the cookie the login sets (the car service's way: racekit/hardware/server/auth.py).
"""
from __future__ import annotations

from racekit.hardware.server.auth import COOKIE, TokenCheck, cross_site, token_hash

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
OPEN_PATHS = frozenset({"/login", "/api/session", "/assets/console.css"})
CHANGING = ("POST", "PUT", "PATCH", "DELETE")
SENT_TYPES = (b"application/json", b"application/octet-stream")  # an upload; no other site's form can send either


class TokenRequired(ValueError):
    """A non-local bind without a token."""


def is_local(host: str) -> bool:
    return host in LOCAL_HOSTS


def check_bind(host: str, token: str | None) -> None:
    if not is_local(host) and not token:
        raise TokenRequired(f"--host {host}: a console reachable from other machines runs the reward code it is "
                            f"sent; give it a --token (a long random string) that every request must carry")
    if token is not None and len(token) < 12:
        raise TokenRequired("--token: use at least 12 characters")


def _host_name(headers: dict[bytes, bytes]) -> str:
    host = headers.get(b"host", b"").decode("latin-1").strip()
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware: the rules above. With token=None, the local rules; with a token, the token rules."""

    def __init__(self, app, token: str | None, login_page: bytes):
        self.app = app
        self.check = TokenCheck(token_hash(token)) if token else None
        self.login_page = login_page

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        method = scope["method"]
        if method in CHANGING and cross_site(headers):
            return await _refuse(send, 403, b'{"error": "refused: a request from another site"}')
        if self.check is None:
            if not is_local(_host_name(headers)):
                return await _refuse(send, 403, b'{"error": "refused: this console answers only to this machine"}')
            if method in CHANGING and not headers.get(b"content-type", b"").startswith(SENT_TYPES):
                return await _refuse(send, 415, b'{"error": "send JSON (Content-Type: application/json)"}')
            return await self.app(scope, receive, send)
        if scope["path"] in OPEN_PATHS or self.check.carried_by(headers) is not None:
            return await self.app(scope, receive, send)
        if method == "GET" and b"text/html" in headers.get(b"accept", b""):
            return await _refuse(send, 401, self.login_page, b"text/html; charset=utf-8")
        return await _refuse(send, 401, b'{"error": "missing or wrong token"}')


async def _refuse(send, status: int, body: bytes, kind: bytes = b"application/json") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", kind), (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["COOKIE", "Guard", "TokenRequired", "check_bind", "is_local"]
