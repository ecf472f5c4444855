"""Mount the staff dashboard on the FastAPI app: pages, live endpoints, static files,
sign-in, and what the pages read (database, live hub, system status)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from edge.store.sessions import Sessions
from edge.store.store import Store
from edge.store.users import Users
from edge.web import live_routes, pages, signin
from edge.web.auth import SESSION_HOURS, SESSION_IDLE_MINUTES, LoginLimiter, Signer, session_secret
from edge.web.live import LiveHub
from edge.web.queries import Reader
from edge.web.security import LoginRequired, login_url

log = logging.getLogger("traycheck.web")
STATIC = Path(__file__).parent / "static"


@dataclass
class Dashboard:
    """Everything the dashboard needs from the process that serves it."""

    store: Store
    data_dir: Path
    hub: LiveHub = field(default_factory=LiveHub)
    site: str = "site"
    system: Callable[[], dict] = dict
    snapshot_root: Path | None = None
    session_hours: float = SESSION_HOURS  # a session ends this long after sign-in, used or not
    session_idle_minutes: float = SESSION_IDLE_MINUTES  # ... or this long after its last request


def mount_dashboard(app: FastAPI, d: Dashboard) -> None:
    Users(d.store.db).ensure_first_manager(d.data_dir / "first-password")  # a fresh install: the first password
    st = app.state
    st.store, st.hub, st.site, st.system = d.store, d.hub, d.site, d.system
    st.reader = Reader(d.store.path)
    st.signer = Signer(session_secret(d.data_dir))
    st.limiter = LoginLimiter()
    st.sessions = Sessions(d.store.path, idle_s=d.session_idle_minutes * 60, max_s=d.session_hours * 3600)
    st.snapshot_root = d.snapshot_root
    st.on_change = lambda: None
    st.camera_names = lambda: sorted(set(d.hub.pipelines) | set(st.reader.cameras()))

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        if request.method != "GET":  # a change without a session: refuse, never redirect
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(signin.router)
    app.include_router(pages.router)
    app.include_router(live_routes.router)
