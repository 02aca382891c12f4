"""The car service's access token.

One random token per car, made on first start and printed once. The car keeps
only its SHA-256: the token is 32 random bytes, so a plain hash cannot be
brute-forced (slow password hashes are for guessable passwords) and costs
nothing per request. Every request but the health check carries it, as
`Authorization: Bearer TOKEN` (the laptop) or in the HttpOnly cookie the
console page gets at login (a browser cannot put a header on an <img> stream).
The hash of what a request carries is compared with hmac.compare_digest, so
the time a check takes says nothing about how much of a guess was right.
The cookie is SameSite=Strict, and a cookie-carrying request that changes
something is refused when the browser says it comes from another site.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

TOKEN_FILE = "token.sha256"
COOKIE = "racekit_token"
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(data_dir: str) -> str:
    """Make a token, store its hash (owner-only file, written atomically) and return the token."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    while token.startswith("-"):  # `--token -abc` reads as an option on a command line
        token = secrets.token_urlsafe(TOKEN_BYTES)
    path = os.path.join(data_dir, TOKEN_FILE)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token_hash(token) + "\n")
    os.replace(tmp, path)
    return token


def load_token_hash(data_dir: str) -> str | None:
    """The stored hash, or None when no token was made yet (or the file is not a hash)."""
    try:
        with open(os.path.join(data_dir, TOKEN_FILE), encoding="ascii") as fh:
            value = fh.read().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return value if len(value) == 64 and all(c in "0123456789abcdef" for c in value) else None


class TokenCheck:
    """Checks the token a request carries against the stored hash."""

    def __init__(self, stored_hash: str):
        self._hash = stored_hash.encode("ascii")

    def ok(self, token: str | None) -> bool:
        if not token:
            return False
        # Hash first: compare_digest on equal-length digests takes the same time for any guess.
        return hmac.compare_digest(token_hash(token).encode("ascii"), self._hash)

    def request_ok(self, headers: dict[bytes, bytes]) -> bool:
        """True if the Authorization header or the console cookie carries the token."""
        return self.carried_by(headers) is not None

    def carried_by(self, headers: dict[bytes, bytes]) -> str | None:
        """Where the request carries the right token: "header", "cookie", or None (nowhere)."""
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and self.ok(value.strip()):
            return "header"
        cookie = headers.get(b"cookie")
        if cookie:
            jar = SimpleCookie()
            try:
                jar.load(cookie.decode("latin-1"))
            except CookieError:  # a malformed Cookie header: as if there were none
                return None
            morsel = jar.get(COOKIE)
            if morsel is not None and self.ok(morsel.value):
                return "cookie"
        return None


def cross_site(headers: dict[bytes, bytes]) -> bool:
    """True if a browser says the request comes from a page of another site (its Origin
    header names another host). SameSite=Strict already keeps the cookie off such
    requests in current browsers; this refuses them in any browser that sends Origin."""
    origin = headers.get(b"origin")
    if origin is None:
        return False
    return urlsplit(origin.decode("latin-1")).netloc != headers.get(b"host", b"").decode("latin-1")


class RequireToken:
    """ASGI middleware: every HTTP request but `open_paths` needs the token, or gets 401.

    It answers before the app sees the request, so a refused request has no
    effect at all. A browser asking for a page gets the login page (with 401).
    """

    def __init__(self, app, check: TokenCheck, open_paths: frozenset[str], login_page: bytes):
        self.app = app
        self.check = check
        self.open_paths = open_paths
        self.login_page = login_page

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])  # ASGI header names are lower-case bytes
        carrier = self.check.carried_by(headers)
        if carrier == "cookie" and scope["method"] not in ("GET", "HEAD") and cross_site(headers):
            return await self._refuse(send, 403, b'{"error": "refused: a request from another site"}')
        if carrier is not None:
            return await self.app(scope, receive, send)
        wants_page = scope["method"] == "GET" and b"text/html" in headers.get(b"accept", b"")
        if wants_page:
            await self._refuse(send, 401, self.login_page, b"text/html; charset=utf-8")
        else:
            await self._refuse(send, 401, b'{"error": "missing or wrong token"}')

    @staticmethod
    async def _refuse(send, status: int, body: bytes, kind: bytes = b"application/json") -> None:
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", kind), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b"Bearer"), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})
