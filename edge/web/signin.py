"""Sign-in, sign-out and "sign out everywhere": the routes that create and end server-side sessions.

The login limiter (``edge.web.login_limits``) is asked *before* the slow password check
(``LoginLimiter.reserve``), so parallel guesses cannot outrun it; the client address is the
socket's peer unless ``http.trusted_proxies`` names it (then uvicorn takes the forwarded address).
Every failed sign-in is counted, logged and audited (``FailedSignins``, rate-limited). A sign-in
that cannot be stored (a full disk) is a 503 with ``Retry-After``, never a 500.
"""
from __future__ import annotations

import logging
import sqlite3
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from edge.store.sessions import Session
from edge.store.users import Users
from edge.web.pages import render
from edge.web.security import clear_session_cookie, local_path, page_session, require_csrf, set_session_cookie

router = APIRouter()
log = logging.getLogger("traycheck.signin")
RETRY_AFTER_S = 30  # a sign-in that could not be stored: try again then (space may have been freed)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", None, next=local_path(next), error=None)


@router.post("/login", include_in_schema=False)
def login(request: Request, name: str = Form(..., max_length=64), password: str = Form(..., max_length=256),
          next: str = Form("/", max_length=2048)) -> Response:
    app = request.app.state
    client = request.client.host if request.client else "?"
    users = Users(app.reader.conn)
    wait = app.limiter.reserve(name, client)  # counted before the hash: parallel guesses cannot all get through
    resp: Response
    if wait > 0:
        _failed(app, client, name if users.exists(name) else None, "limited")
        resp = render(request, "login.html", None, next=local_path(next),
                      error=f"Too many failed sign-ins: try again in {int(wait) + 1} s.")
        resp.status_code = 429
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    role, reason = users.verify(name, password)
    if role is None:
        _failed(app, client, None if reason == "unknown_user" else name, reason)
        resp = render(request, "login.html", None, next=local_path(next), error="Wrong name or password.")
        resp.status_code = 401
        return resp
    app.limiter.succeeded(name, client)
    try:
        token = app.sessions.create(name)
    except (sqlite3.Error, OSError) as exc:
        log.error("sign-in of %s not stored (storage: %s); answered 503", name, exc)
        resp = render(request, "login.html", None, next=local_path(next),
                      error="The box cannot store a sign-in right now (its disk is full or failing): "
                            f"try again in {RETRY_AFTER_S} s, or tell the manager.")
        resp.status_code = 503
        resp.headers["Retry-After"] = str(RETRY_AFTER_S)
        return resp
    resp = RedirectResponse(local_path(next), status_code=303)
    set_session_cookie(request, resp, token, int(app.sessions.max_s))
    return resp


def _failed(app: Any, client: str, account: str | None, reason: str) -> None:
    """Count, log and audit one failed sign-in (``FailedSignins``, set up by ``create_app``; absent only when
    the dashboard is mounted without it)."""
    failed = getattr(app, "failed_signins", None)
    if failed is not None:
        failed(client, account, reason)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, session: Session = Depends(page_session)) -> Response:
    """Ends this session on the server (a copy of the cookie is worthless afterwards)."""
    await require_csrf(request, session)
    await run_in_threadpool(request.app.state.sessions.end, session.nonce)
    resp = RedirectResponse("/login", status_code=303)
    clear_session_cookie(request, resp)
    return resp


@router.post("/sessions/end-all", include_in_schema=False)
async def end_all(request: Request, session: Session = Depends(page_session)) -> Response:
    """Sign out everywhere: every session of this user ends, this one included."""
    await require_csrf(request, session)
    n = await run_in_threadpool(request.app.state.sessions.end_all, session.user)
    await run_in_threadpool(request.app.state.store.audit, session.user, "signed out everywhere", session.user,
                            {"sessions": n})
    resp = RedirectResponse("/login", status_code=303)
    clear_session_cookie(request, resp)
    return resp
