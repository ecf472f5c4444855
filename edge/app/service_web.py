"""The service's HTTP side, wired from the config: the POS API, health and metrics, and the staff
dashboard, behind one server (``edge.app.service.Service`` hands in what they read and call)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from edge.app.config import Config
from edge.app.order_intake import CurrentMenu
from edge.store.store import Store
from edge.web.app import create_app
from edge.web.dashboard import Dashboard
from edge.web.live import LiveHub
from edge.web.server import WebServer, parse_listen
from edge.web.token import api_token
from orders.models import Order


def service_web(cfg: Config, store: Store, hub: LiveHub, system: Callable[[], dict], menu: CurrentMenu,
                registry: CollectorRegistry, *, on_order: Callable[[Order, str | None], None],
                on_cancel: Callable[[str], object], ready: Callable[[], dict]) -> WebServer:
    """The server (not started); the API token is the config's, or the one kept in the data directory."""
    data_dir = Path(cfg.data_dir)
    dash = Dashboard(store, data_dir, hub, cfg.site, snapshot_root=data_dir / "snapshots",
                     session_hours=cfg.http.session_hours, session_idle_minutes=cfg.http.session_idle_minutes,
                     system=system)
    token = cfg.http.resolved_token() or api_token(data_dir)
    app = create_app(store, token, menu, on_order=on_order, on_cancel=on_cancel, registry=registry, ready=ready,
                     dashboard=dash, cameras=[c.name for c in cfg.cameras], metrics_allow=cfg.http.metrics_allow,
                     max_body=cfg.http.max_body_bytes)
    return WebServer(app, *parse_listen(cfg.http.listen), trusted_proxies=cfg.http.trusted_proxies,
                     max_connections=cfg.http.max_connections)
