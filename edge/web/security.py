"""Request-level access rules of the dashboard: who is signed in, who may change what.

Pages redirect to the sign-in page without a session; JSON APIs answer 401.
Every request that changes data needs the session's CSRF token (form field
``csrf`` or header ``X-CSRF-Token``), else 403. Managers may do everything;
viewers may watch and acknowledge alerts as themselves.
"""
from __future__ import annotations

from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import Response

from edge.store.sessions import Session
from edge.web.auth import SESSION_COOKIE


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str):
        self.next_url = next_url


def current_session(request: Request) -> Session | None:
    """The live server-side session of this request's cookie (``edge.store.sessions``), or None."""
    return request.app.state.sessions.load(request.cookies.get(SESSION_COOKIE))


def _cookie_attrs(request: Request) -> dict:
    """The same attributes when the cookie is set and when it is cleared (a browser keeps a cookie
    whose clearing differs in path, SameSite or Secure)."""
    return {"path": "/", "httponly": True, "samesite": "strict", "secure": request.url.scheme == "https"}


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, **_cookie_attrs(request))


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, **_cookie_attrs(request))


def page_session(request: Request) -> Session:
    """Dependency of every page: the session, or a redirect to the sign-in page."""
    s = current_session(request)
    if s is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return s


def api_session(request: Request) -> Session:
    """Dependency of the dashboard's JSON endpoints: the session, or 401."""
    s = current_session(request)
    if s is None:
        raise HTTPException(401, "sign in first (POST /login)")
    return s


async def require_csrf(request: Request, session: Session) -> None:
    """403 unless the request carries this session's CSRF token."""
    token: object = request.headers.get("x-csrf-token")
    if token is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        token = (await request.form()).get("csrf")
    if not request.app.state.signer.check_csrf(session, token if isinstance(token, str) else None):
        raise HTTPException(403, "missing or wrong CSRF token (reload the page)")


def require_manager(session: Session) -> None:
    if not session.manager:
        raise HTTPException(403, "managers only")


def local_path(url: str | None, default: str = "/") -> str:
    """``url`` when it is a path on this site, else ``default``: a link or form field must not send staff
    to another site (``//host``, ``/\\host``, ``https://host``, control characters all count as elsewhere)."""
    if (not url or not url.startswith("/") or url.startswith(("//", "/\\")) or len(url) > 2048
            or any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url)):
        return default
    return url


def login_url(next_url: str) -> str:
    return f"/login?next={quote(next_url)}"
