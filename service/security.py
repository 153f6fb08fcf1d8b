"""Who may do what: request body limit, bearer tokens (required on a non-loopback bind), cross-site refusal.

- Tokens: `curate token create NAME` prints a token once; the database keeps only its SHA-256. A client sends
  `Authorization: Bearer TOKEN`; the web page's login form stores it in an HttpOnly, SameSite=Strict cookie.
- Cross-site requests: a state-changing request whose Origin (or Sec-Fetch-Site) says another site sent it is
  refused, so a page elsewhere cannot drive a loopback service through the user's browser. Forms also carry
  a per-browser CSRF token (double-submit cookie, checked in service/web.py).
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from service.db import Store
from service.settings import Settings

TOKEN_COOKIE = "curate_token"
OPEN_PATHS = ("/healthz", "/login", "/static/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class SecurityMiddleware:
    def __init__(self, app: Any, settings: Settings, store: Store):
        self.app = app
        self.settings = settings
        self.store = store

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope["method"]
        path = scope["path"]
        if method not in SAFE_METHODS:
            refusal = self._cross_site(headers)
            if refusal:
                await _send_json(send, 403, refusal)
                return
        if self.settings.require_token and not path.startswith(OPEN_PATHS) and not self._authorized(headers):
            wants_html = method == "GET" and "text/html" in headers.get("accept", "") and \
                not path.startswith("/api/")
            if wants_html:
                await _send(send, 303, b"", [(b"location", b"/login")])
            else:
                await _send_json(send, 401, "a bearer token is required (curate token create NAME)",
                                 [(b"www-authenticate", b"Bearer")])
            return
        # Body limit: refuse by Content-Length at once, else count what arrives.
        limit = self.settings.max_body_bytes
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            # Read (and drop) a moderately oversized body first so the client gets the 413, not a reset
            # connection while it is still sending; anything bigger is cut off at once.
            if int(length) <= 8 * limit:
                while (await receive()).get("more_body"):
                    pass
            await _send_json(send, 413, f"request body over the limit of {limit} bytes")
            return
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await _send_json(send, 413, f"request body over the limit of {limit} bytes")
                return
            chunks.append(body)
            if not message.get("more_body"):
                break
        buffered = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": buffered, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _authorized(self, headers: dict[str, str]) -> bool:
        token = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        elif "cookie" in headers:
            cookie = SimpleCookie()
            try:
                cookie.load(headers["cookie"])
            except Exception:
                return False
            if TOKEN_COOKIE in cookie:
                token = cookie[TOKEN_COOKIE].value
        return bool(token) and self.store.check_token(token) is not None

    @staticmethod
    def _cross_site(headers: dict[str, str]) -> str | None:
        if headers.get("sec-fetch-site") == "cross-site":
            return "cross-site request refused"
        origin = headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != headers.get("host", ""):
            return f"cross-site request refused (Origin {origin} is not this service)"
        if origin == "null":
            return "cross-site request refused (Origin null)"
        return None


async def _send(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await _send(send, status, json.dumps({"detail": message}).encode(),
                [(b"content-type", b"application/json"), *(headers or [])])


def install_security(app: FastAPI, settings: Settings, store: Store) -> None:
    app.add_middleware(SecurityMiddleware, settings=settings, store=store)
