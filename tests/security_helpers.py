"""The dashboard and POS API on real HTTP for the security tests: an app over a seeded store,
sign-in, and whether a session cookie still opens a page."""
from __future__ import annotations

import re

import httpx
from prometheus_client import CollectorRegistry, Counter

from edge.web.app import create_app
from edge.web.dashboard import Dashboard
from dashboard_helpers import seeded_store
from orders.menu import Menu

TOKEN = "pos-token"


def build(tmp_path, metrics_allow=("127.0.0.1", "::1"), **dash):
    store = seeded_store(tmp_path)
    registry = CollectorRegistry()
    Counter("traycheck_test", "a metric", registry=registry).inc()
    app = create_app(store, TOKEN, Menu(), registry=registry, metrics_allow=list(metrics_allow),
                     dashboard=Dashboard(store, tmp_path, site="test", snapshot_root=tmp_path, **dash))
    return app, store


def sign_in(base: str, name: str, password: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=base, follow_redirects=False)
    r = c.post("/login", data={"name": name, "password": password, "next": "/alerts"})
    assert r.status_code == 303, r.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/alerts").text).group(1)
    return c, csrf


def signed_in(base: str, cookie: str) -> bool:
    """Does this session cookie still open a page?"""
    with httpx.Client(base_url=base, follow_redirects=False, cookies={"traycheck_session": cookie}) as c:
        r = c.get("/live")
        assert r.status_code in (200, 303)
        return r.status_code == 200
