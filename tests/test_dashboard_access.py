"""Dashboard access rules over real HTTP (uvicorn on loopback, a real database):
without a session every page redirects to the sign-in page and every change is
refused; viewers cannot do managers' things; CSRF and the login rate limit hold."""
from __future__ import annotations

import re

import httpx
import pytest

from edge.store.store import Store
from edge.store.users import Users
from edge.web.app import create_app
from edge.web.dashboard import Dashboard
from edge.web.server import WebServer
from dashboard_helpers import seeded_store
from mqtt_helpers import free_port
from orders.menu import Menu

pytestmark = pytest.mark.quick

PAGES = ["/", "/live", "/alerts", "/orders", "/trays", "/trays?q=1", "/trays/1", "/report", "/report.csv",
         "/system", "/docs", "/snapshots/1.jpg"]
APIS = ["/api/events", "/api/live/expo-1", "/api/frame/expo-1.jpg"]


@pytest.fixture
def server(tmp_path):
    store = seeded_store(tmp_path)
    port = free_port()
    app = create_app(store, "pos-token", Menu(), dashboard=Dashboard(store, tmp_path, site="test"))
    web = WebServer(app, "127.0.0.1", port)
    web.start()
    yield f"http://127.0.0.1:{port}", store
    web.stop()
    store.close()


def sign_in(base: str, name: str, password: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=base, follow_redirects=False)
    r = c.post("/login", data={"name": name, "password": password, "next": "/alerts"})
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    page = c.get("/alerts").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return c, csrf


def test_without_a_session_pages_redirect_and_changes_are_refused(server):
    base, store = server
    with httpx.Client(base_url=base, follow_redirects=False) as c:
        for path in PAGES:
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
        for path in APIS:
            assert c.get(path).status_code == 401, path
        for method, path in [("POST", "/alerts/1/ack"), ("POST", "/logout"), ("POST", "/api/orders"),
                             ("DELETE", "/api/orders/42")]:
            assert c.request(method, path).status_code in (401, 403), path
    forged = {"traycheck_session": "eyJ1IjoibWF4IiwiciI6Im1hbmFnZXIifQ.forged"}
    with httpx.Client(base_url=base, follow_redirects=False, cookies=forged) as c:
        assert c.get("/live").status_code == 303
    assert store.db.execute("SELECT state FROM alerts").fetchone()[0] == "open"


def test_wrong_password_is_refused_and_the_login_is_rate_limited(server):
    base, _ = server
    with httpx.Client(base_url=base) as c:
        codes = [c.post("/login", data={"name": "max", "password": f"guess{i}"}).status_code for i in range(6)]
        assert codes[:5] == [401] * 5 and codes[5] == 429
        r = c.post("/login", data={"name": "max", "password": "manager-pw"})
        assert r.status_code == 429 and "try again" in r.text  # even the right password waits


def test_viewer_acknowledges_as_themselves_only_and_csrf_is_required(server):
    base, store = server
    c, csrf = sign_in(base, "vera", "viewer-pw")
    assert c.get("/docs").status_code == 403  # the API docs are for managers
    assert c.post("/alerts/1/ack", data={"back": "/alerts"}).status_code == 403  # no CSRF token
    r = c.post("/alerts/1/ack", data={"csrf": csrf, "on_behalf_of": "someone"})
    assert r.status_code == 403
    assert store.db.execute("SELECT state FROM alerts").fetchone()[0] == "open"
    r = c.post("/alerts/1/ack", data={"csrf": csrf, "back": "/alerts"})
    assert r.status_code == 303
    state, by = store.db.execute("SELECT state, closed_by FROM alerts").fetchone()
    assert (state, by) == ("acknowledged", "vera")
    assert store.db.execute("SELECT actor, action FROM audit WHERE action = 'acknowledge'").fetchone() == \
        ("vera", "acknowledge")
    assert c.post("/alerts/1/ack", data={"csrf": csrf}).status_code == 409  # not open any more


def test_manager_sees_docs_and_acknowledges_for_someone_else(server):
    base, store = server
    c, csrf = sign_in(base, "max", "manager-pw")
    assert "POST /api/orders" in c.get("/docs").text
    r = c.post("/alerts/1/ack", data={"csrf": csrf, "on_behalf_of": "kim"}, headers={"accept": "application/json"})
    assert r.status_code == 200 and r.json()["by"] == "kim"
    detail = store.db.execute("SELECT actor, detail FROM audit WHERE action = 'acknowledge'").fetchone()
    assert detail[0] == "max" and "kim" in detail[1]
    r = c.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303
    c.cookies.clear()
    assert c.get("/live").status_code == 303


def test_sign_in_never_redirects_to_another_site(server):
    base, _ = server
    with httpx.Client(base_url=base) as c:
        r = c.post("/login", data={"name": "max", "password": "manager-pw", "next": "//evil.example/x"},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_users_cli_adds_users_and_rejects_bad_input(cli, tmp_path):
    pw = tmp_path / "pin"
    pw.write_text("4711\n")
    ok = cli("users", "add", "kim", "--role", "viewer", "--password-file", pw, "--data-dir", tmp_path)
    assert ok.returncode == 0, ok.stderr
    store = Store(tmp_path / "traycheck.db", outbox=False)
    try:
        assert Users(store.db).check("kim", "4711") == "viewer"
        assert Users(store.db).check("kim", "wrong") is None
        stored = store.db.execute("SELECT password_hash FROM users WHERE name = 'kim'").fetchone()[0]
        assert stored.startswith("scrypt$") and "4711" not in stored
    finally:
        store.close()
    for args, message in [(["--role", "boss"], "role 'boss'"), (["--password-file", tmp_path / "nope"], "nope"),
                          (["--config", tmp_path / "c.yaml"], "give --config FILE or --data-dir DIR, not both")]:
        extra = [] if "--password-file" in args else ["--password-file", pw]
        where = ["--data-dir", tmp_path]
        r = cli("users", "add", "lee", *args, *extra, *where)
        assert r.returncode == 2 and message in r.stderr + r.stdout and "Traceback" not in r.stderr, r.stderr
