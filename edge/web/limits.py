"""Who may send a request body, and how big: decided before one byte of the body is read.

FastAPI reads and parses a body before a route's dependencies run, so the POS token
(a dependency) was checked only after a 50 MB body had been buffered and parsed. This
pure ASGI middleware sits in front of the app and decides on the request head alone:

* the POS API (``/api/orders`` and below) needs the bearer token, else 401;
* any other request that may change something (not GET, HEAD or OPTIONS) needs a live
  dashboard session, the sign-in form excepted, else 401;
* a ``Content-Length`` over the limit: 413 at once; a chunked body that streams past the
  limit: 413 as soon as it does. The sign-in form, open to anyone, gets 16 KiB;
* an answer sent before the body was read whole says ``Connection: close``: the server
  closes the socket instead of reading and discarding the rest.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable

import anyio.to_thread
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.web.auth import SESSION_COOKIE
from edge.web.headers import bearer_ok

LOGIN_PATH = "/login"
LOGIN_MAX_BODY = 16 * 1024  # name, password and next: a few hundred bytes
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CLOSE = (b"connection", b"close")


def is_pos_path(path: str) -> bool:
    """The token-protected POS API (the dashboard's own ``/api/`` reads use the session)."""
    return path == "/api/orders" or path.startswith("/api/orders/")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit; the app's handlers answer it 413."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body too large (at most {limit} bytes)")


def _declared_length(headers: Headers) -> int | None:
    """The ``Content-Length`` (uvicorn's parser has refused a malformed one), or None."""
    value = headers.get("content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _has_body(headers: Headers) -> bool:
    length = _declared_length(headers)
    return bool(length) or "transfer-encoding" in headers


class RequestGate:
    """Checks the token / session and the body size on the request head, before the app reads the body.

    ``session_ok(cookie)`` says whether a session cookie is live; by default it asks the dashboard's
    ``app.state.sessions`` (in a worker thread: a database read), and without a dashboard any
    cookie passes (no route then takes a body).
    """

    def __init__(self, app: ASGIApp, token: str, max_body: int,
                 session_ok: Callable[[Scope, str | None], bool] | None = None):
        self.app, self.token, self.max_body = app, token, max_body
        self.session_ok = session_ok or _dashboard_session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = LOGIN_MAX_BODY if scope["path"] == LOGIN_PATH else self.max_body
        refusal = await self._refusal(scope, headers, limit)
        if refusal is not None:
            refusal.headers["connection"] = "close"  # the body stays unread: never drain it
            await refusal(scope, receive, send)
            return
        await _Limited(self.app, limit, _has_body(headers))(scope, receive, send)

    async def _refusal(self, scope: Scope, headers: Headers, limit: int) -> JSONResponse | None:
        """The answer that ends this request on its head alone (401 or 413), or None to go on."""
        path, method = scope["path"], scope["method"]
        if is_pos_path(path):
            if not bearer_ok(headers.get("authorization"), self.token):
                return JSONResponse({"detail": "missing or wrong API token (Authorization: Bearer <token>)"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
        elif method not in SAFE_METHODS and path != LOGIN_PATH:
            cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
            if not cookie or not await anyio.to_thread.run_sync(self.session_ok, scope, cookie):
                return JSONResponse({"detail": "sign in first"}, status_code=401)
        length = _declared_length(headers)
        if length is not None and length > limit:
            return JSONResponse({"detail": f"request body too large (at most {limit} bytes)"}, status_code=413)
        return None


def _dashboard_session(scope: Scope, cookie: str | None) -> bool:
    """Whether the dashboard knows this cookie as a live session (True when there is no dashboard)."""
    sessions = getattr(scope["app"].state, "sessions", None) if "app" in scope else None
    try:
        return sessions is None or sessions.load(cookie) is not None
    except (sqlite3.Error, OSError):  # the route asks again and answers the storage error its own way
        return True


class _Limited:
    """One request passed on: its body counted against ``limit`` as it streams in, and ``Connection:
    close`` on an answer given before the body was read whole."""

    def __init__(self, app: ASGIApp, limit: int, has_body: bool):
        self.app, self.limit = app, limit
        self.read, self.done, self.started = 0, not has_body, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.read += len(message.get("body", b""))
                if self.read > self.limit:
                    raise BodyTooLarge(self.limit)
                self.done = self.done or not message.get("more_body", False)
            return message

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.started = True
                if not self.done:
                    message["headers"] = [*message.get("headers", []), CLOSE]
            await send(message)

        try:
            await self.app(scope, counted, closing)
        except BodyTooLarge as exc:  # raised where no handler turned it into an answer
            if self.started:
                raise
            await JSONResponse({"detail": exc.detail}, status_code=413)(scope, receive, closing)
