"""Dashboard and API security (issue 13), tried as an attacker on the LAN would: every finding is
replayed over real HTTP (uvicorn on loopback, a real SQLite file) and must get the safe answer;
the hypothesis fuzz over every route is in test_security_fuzz.py."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

import edge.store.users as users_module
from edge.web.app import create_app
from edge.web.dashboard import Dashboard
from edge.web.server import WebServer
from dashboard_helpers import seeded_store
from mqtt_helpers import free_port
from orders.menu import Menu

TOKEN = "pos-token"


def build(tmp_path, metrics_allow=("127.0.0.1", "::1"), **dash):
    store = seeded_store(tmp_path)
    registry = CollectorRegistry()
    Counter("traycheck_test", "a metric", registry=registry).inc()
    app = create_app(store, TOKEN, Menu(), registry=registry, metrics_allow=list(metrics_allow),
                     dashboard=Dashboard(store, tmp_path, site="test", snapshot_root=tmp_path, **dash))
    return app, store


@pytest.fixture
def serve(tmp_path):
    """serve(**options) -> (base url, store); every server started is stopped after the test."""
    started = []

    def start(trusted_proxies=None, **options):
        app, store = build(tmp_path / f"s{len(started)}", **options)
        port = free_port()
        web = WebServer(app, "127.0.0.1", port, trusted_proxies=trusted_proxies)
        web.start()
        started.append((web, store))
        return f"http://127.0.0.1:{port}", store

    yield start
    for web, store in started:
        web.stop()
        store.close()


@pytest.fixture
def server(serve):
    return serve()


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


@pytest.fixture
def password_checks(monkeypatch):
    """Counts the real scrypt checks the server does (a spy around the real function, not a fake)."""
    calls = []
    real = users_module.verify_password

    def counting(password: str, stored: str) -> bool:
        calls.append(password)
        return real(password, stored)

    monkeypatch.setattr(users_module, "verify_password", counting)
    return calls


# -- 1, 2: the login limit ---------------------------------------------------------------------------------
def _parallel_wrong_passwords(base: str, forwarded: list[str | None]) -> list[int]:
    def attempt(i: int) -> int:
        headers = {"X-Forwarded-For": forwarded[i]} if forwarded[i] else {}
        with httpx.Client(base_url=base, timeout=60) as c:
            return c.post("/login", data={"name": "max", "password": f"guess-{i}"}, headers=headers).status_code

    with ThreadPoolExecutor(30) as pool:
        return list(pool.map(attempt, range(30)))


@pytest.mark.parametrize("spoof", ["none", "one-forwarded-address", "many-forwarded-addresses"])
def test_parallel_wrong_passwords_check_at_most_five(server, password_checks, spoof):
    base, _ = server
    forwarded = {"none": [None] * 30, "one-forwarded-address": ["10.9.9.9"] * 30,
                 "many-forwarded-addresses": [f"10.0.0.{i}" for i in range(30)]}[spoof]
    codes = _parallel_wrong_passwords(base, forwarded)
    print(f"30 parallel wrong passwords ({spoof}): {len(password_checks)} password checks, "
          f"{codes.count(401)} x 401, {codes.count(429)} x 429")
    assert len(password_checks) <= 5
    assert codes.count(401) <= 5 and codes.count(429) >= 25 and set(codes) <= {401, 429}


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(serve, password_checks):
    base, _ = serve()
    with httpx.Client(base_url=base) as c:
        codes = [c.post("/login", data={"name": f"user{i}", "password": "x"},
                        headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(30)]
    # one client (the socket's address): 10 tries over all names (issue 25: per address, 5 per account)
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    assert len(password_checks) == 10
    # behind a configured proxy (here: loopback) the forwarded address is the client
    base, _ = serve(trusted_proxies=["127.0.0.1"])
    with httpx.Client(base_url=base) as c:
        def login(name: str, client: str) -> int:
            return c.post("/login", data={"name": name, "password": "x"},
                          headers={"X-Forwarded-For": client}).status_code
        assert [login(f"u{i}", "10.0.0.1") for i in range(11)] == [401] * 10 + [429]
        assert login("someone", "10.0.0.1") == 429  # that client is blocked...
        assert login("someone", "10.0.0.2") == 401  # ...another one is not


def test_the_right_password_still_waits_and_success_forgives(server):
    base, _ = server
    with httpx.Client(base_url=base) as c:
        assert c.post("/login", data={"name": "max", "password": "nope"}).status_code == 401
        assert c.post("/login", data={"name": "max", "password": "manager-pw"}).status_code == 303
        codes = [c.post("/login", data={"name": "max", "password": f"g{i}"}).status_code for i in range(6)]
        assert codes == [401] * 5 + [429]  # the earlier failure was forgiven by the success
        r = c.post("/login", data={"name": "max", "password": "manager-pw"})
        assert r.status_code == 429 and "Retry-After" in r.headers


# -- 3: sessions can be revoked ------------------------------------------------------------------------------
def test_logout_ends_the_session_on_the_server(server):
    base, _ = server
    c, csrf = sign_in(base, "max", "manager-pw")
    cookie = c.cookies["traycheck_session"]
    assert signed_in(base, cookie)
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    assert not signed_in(base, cookie)  # a copy of the old cookie is worth nothing


def test_password_or_role_change_and_disable_revoke_at_once(server, cli, tmp_path):
    base, store = server
    c, _ = sign_in(base, "max", "manager-pw")
    cookie = c.cookies["traycheck_session"]
    assert c.get("/docs").status_code == 200  # a manager's page
    pw = tmp_path / "pw"
    pw.write_text("new-viewer-pw\n")
    data_dir = store.path.parent
    r = cli("users", "add", "max", "--role", "viewer", "--password-file", pw, "--data-dir", data_dir)
    assert r.returncode == 0, r.stderr
    assert not signed_in(base, cookie)  # demoted and re-passworded: the old manager session is gone
    c2, _ = sign_in(base, "max", "new-viewer-pw")
    assert c2.get("/docs").status_code == 403  # and the new one is a viewer's

    c3, _ = sign_in(base, "vera", "viewer-pw")
    cookie = c3.cookies["traycheck_session"]
    r = cli("users", "disable", "vera", "--data-dir", data_dir)
    assert r.returncode == 0 and "disabled" in r.stdout + r.stderr, r.stderr
    assert not signed_in(base, cookie)
    with httpx.Client(base_url=base) as anon:
        assert anon.post("/login", data={"name": "vera", "password": "viewer-pw"}).status_code == 401
    r = cli("users", "disable", "nobody", "--data-dir", data_dir)
    assert r.returncode == 2 and "nobody" in r.stderr + r.stdout and "Traceback" not in r.stderr
    listed = cli("users", "list", "--data-dir", data_dir)
    assert re.search(r"vera\s+viewer \(disabled\)", listed.stdout + listed.stderr)


def test_sign_out_everywhere_from_the_system_page(server):
    base, _ = server
    a, _ = sign_in(base, "max", "manager-pw")
    b, csrf_b = sign_in(base, "max", "manager-pw")
    b_cookie = b.cookies["traycheck_session"]
    page = b.get("/system").text
    assert page.count("<td>this browser</td>") == 1 and "Sign out everywhere" in page
    assert len(re.findall(r"<tr><td>\d{4}-\d\d-\d\d ", page)) == 2  # both open sessions are listed
    assert b.post("/sessions/end-all", data={"csrf": csrf_b}).status_code == 303
    assert not signed_in(base, a.cookies["traycheck_session"])
    assert "traycheck_session" not in b.cookies  # cleared in this browser...
    assert not signed_in(base, b_cookie)  # ...and ended on the server


@pytest.mark.parametrize("limit", [{"session_idle_minutes": 0.02}, {"session_hours": 0.0004}])
def test_sessions_expire_idle_and_absolute(serve, limit):
    import time

    base, _ = serve(**limit)  # about 1.2 s and 1.4 s
    c, _ = sign_in(base, "max", "manager-pw")
    cookie = c.cookies["traycheck_session"]
    deadline = time.monotonic() + 10
    while signed_in(base, cookie):
        assert time.monotonic() < deadline, f"the session outlived its limit {limit}"
        time.sleep(0.2)


# -- 4, 5: no 500s ------------------------------------------------------------------------------------------
def test_openapi_and_docs_work(server):
    base, _ = server
    spec = httpx.get(f"{base}/openapi.json")
    assert spec.status_code == 200 and "/api/orders" in spec.json()["paths"]
    c, _ = sign_in(base, "max", "manager-pw")
    r = c.get("/docs")
    assert r.status_code == 200 and "POST /api/orders" in r.text and "OrderIn" in r.text
    assert "<script" not in r.text.replace('<script src="/static/', "")  # rendered on the box, nothing fetched


BAD_IDS = ["/trays/9223372036854775808", "/trays/-1", "/trays/0", "/snapshots/99999999999999999999999.jpg",
           "/report?day=9999-12-31", "/report.csv?day=0001-01-01", "/report?day=2026-13-01",
           "/alerts?since=9999-12-31T23:59", "/alerts?until=x", "/alerts?page=0", "/trays?page=99999999999",
           "/orders?page=-1", "/orders?sort=random", "/live?sound=maybe"]


def test_out_of_range_ids_and_dates_are_4xx(server):
    base, _ = server
    c, csrf = sign_in(base, "max", "manager-pw")
    for url in BAD_IDS:
        r = c.get(url)
        assert 400 <= r.status_code < 500, (url, r.status_code)
    for url in ["/alerts/99999999999999999999999/ack", "/trays/9223372036854775808/flag"]:
        r = c.post(url, data={"csrf": csrf})
        assert 400 <= r.status_code < 500, (url, r.status_code)


# -- 6: open redirect ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "/\tx", ""])
def test_acknowledge_never_redirects_off_site(server, back):
    base, store = server
    c, csrf = sign_in(base, "vera", "viewer-pw")
    r = c.post("/alerts/1/ack", data={"csrf": csrf, "back": back})
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    assert store.db.execute("SELECT state FROM alerts WHERE id = 1").fetchone()[0] == "acknowledged"


def test_acknowledge_returns_to_a_local_page(server):
    base, _ = server
    c, csrf = sign_in(base, "vera", "viewer-pw")
    r = c.post("/alerts/1/ack", data={"csrf": csrf, "back": "/alerts?state=all"})
    assert r.status_code == 303 and r.headers["location"] == "/alerts?state=all"


# -- 7: headers, cookies, metrics ---------------------------------------------------------------------------
def test_security_headers_on_every_response(server):
    base, _ = server
    c, _ = sign_in(base, "max", "manager-pw")
    for method, path in [("GET", "/login"), ("GET", "/healthz"), ("GET", "/live"), ("GET", "/static/live.js"),
                         ("POST", "/api/orders"), ("GET", "/no-such-page"), ("GET", "/trays/x")]:
        r = c.request(method, path)
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert r.headers.get("x-frame-options") == "DENY", path
        assert r.headers.get("x-content-type-options") == "nosniff", path
        assert r.headers.get("referrer-policy") == "same-origin", path
        assert "server" not in r.headers, (path, r.headers.get("server"))


def test_pages_have_no_inline_script(server):
    base, _ = server
    c, _ = sign_in(base, "max", "manager-pw")
    for path in ["/live", "/alerts", "/orders", "/trays", "/trays/1", "/report", "/system", "/docs"]:
        html = c.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path  # every script is a static file
        assert not re.search(r"\son[a-z]+\s*=", html), path  # no inline event handlers
        assert not re.search(r"\sstyle\s*=", html), path  # no inline style either (style-src 'self')


def _cookie_attrs(set_cookie: str) -> dict:
    parts = [p.strip() for p in set_cookie.split(";")][1:]
    attrs = dict((p.split("=", 1) + [""])[:2] for p in parts)
    return {k.lower(): v.lower() for k, v in attrs.items() if k.lower() not in ("max-age", "expires")}


def test_cookie_attributes_are_the_same_on_set_and_clear(server):
    base, _ = server
    with httpx.Client(base_url=base, follow_redirects=False) as c:
        set_ = c.post("/login", data={"name": "max", "password": "manager-pw"}).headers["set-cookie"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/live").text).group(1)
        clear = c.post("/logout", data={"csrf": csrf}).headers["set-cookie"]
    assert _cookie_attrs(set_) == _cookie_attrs(clear)
    assert _cookie_attrs(set_)["samesite"] == "strict" and "httponly" in _cookie_attrs(set_)


def test_metrics_need_the_token_or_an_allowed_address(serve):
    base, _ = serve(metrics_allow=[])  # no scraper address allowed: the token only
    assert httpx.get(f"{base}/metrics").status_code == 401
    assert httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and "traycheck_test_total 1.0" in r.text
    base, _ = serve(metrics_allow=["127.0.0.0/8"])  # the scraper's address is allowed
    assert httpx.get(f"{base}/metrics").status_code == 200


# -- 8: POS input and order lists ---------------------------------------------------------------------------
@pytest.mark.parametrize("body, field", [
    ({"id": "12\u202e34", "items": [{"sku": "BURGER_MEAL", "qty": 1}]}, "id"),  # bidi override
    ({"id": "12\u200b34", "items": [{"sku": "BURGER_MEAL", "qty": 1}]}, "id"),  # zero-width space
    ({"id": "12\x0034", "items": [{"sku": "BURGER_MEAL", "qty": 1}]}, "id"),  # NUL
    ({"id": "12\n34", "items": [{"sku": "BURGER_MEAL", "qty": 1}]}, "id"),
    ({"id": "1234", "items": [{"sku": "BURGER_MEAL", "qty": "2"}]}, "items.0.qty"),
    ({"id": "1234", "items": [{"sku": "BURGER_MEAL", "qty": True}]}, "items.0.qty"),
    ({"id": "1234", "items": [{"sku": "BURGER_MEAL", "qty": 2.0}]}, "items.0.qty"),
    ({"id": "A" + "\u0301" * 60, "items": [{"sku": "BURGER_MEAL", "qty": 1}]}, "id"),  # 60 accents (issue 25)
    ({"id": "\u0301" + "12", "items": [{"sku": "BURGER_MEAL", "qty": 1}]}, "id"),  # an accent on nothing
    ({"id": "1234", "items": [{"sku": "FRIES" + "\u0300" * 4, "qty": 1}]}, "items.0.sku"),
])
def test_pos_refuses_hidden_characters_and_coerced_types(server, body, field):
    base, store = server
    r = httpx.post(f"{base}/api/orders", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422 and r.json()["detail"].startswith(field), r.text
    assert store.db.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0


def test_pos_cancel_refuses_hidden_characters(server):
    base, _ = server
    r = httpx.delete(f"{base}/api/orders/12%E2%80%AE34", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422 and "order_id" in r.json()["detail"]


def test_orders_page_shows_the_newest_pending_first_and_pages(server):
    base, _ = server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=auth) as pos:
        for i in range(60):
            assert pos.post("/api/orders", json={"id": f"A{i:03d}", "items": [{"sku": "WRAP", "qty": 1}]}).is_success
    c, _ = sign_in(base, "max", "manager-pw")
    first = c.get("/orders").text
    assert "#A059" in first and "#A000" not in first and 'rel="next"' in first
    older = c.get("/orders?page=2").text
    assert "#A000" in older and "#A059" not in older
    assert "#A000" in c.get("/orders?sort=oldest").text


def test_config_names_a_bad_proxy_or_scraper_address(tmp_path):
    from edge.app.config import load_config
    from edge.core import UserError

    for key in ("trusted_proxies", "metrics_allow"):
        p = tmp_path / f"{key}.yaml"
        p.write_text(f"cameras: [{{name: a, source: x.mp4}}]\nhttp: {{{key}: ['10.0.0.0/24', 'lan-box']}}\n")
        with pytest.raises(UserError, match=rf"http\.{key}.*'lan-box' is not an IP address"):
            load_config(p)


# -- issue 25: a box on a hostile LAN ------------------------------------------------------------------------
def _from(base: str, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any of 127.0.0.0/8: real, distinct source addresses)."""
    return httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=address), timeout=60)


def _counter(text: str, name: str, reason: str) -> float:
    m = re.search(rf'^{name}{{reason="{reason}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else -1.0


def test_made_up_names_from_ten_addresses_never_lock_staff_out(server):
    """Finding 4 (acceptance): 50 sign-ins under made-up names from 10 addresses, and 50 guesses at a real
    account's password from the same 10, then each real user signs in at the first try from their own
    address. The old limiter's ceiling of 50 over all clients answered them 429 for 5 minutes, renewable."""
    base, store = server
    codes = []
    for a in range(10):
        with _from(base, f"127.0.0.{10 + a}") as c:
            codes += [c.post("/login", data={"name": f"ghost-{a}-{i}", "password": "x"}).status_code
                      for i in range(5)]
            codes += [c.post("/login", data={"name": "max", "password": f"guess-{i}"}).status_code for i in range(5)]
    print(f"\n100 wrong sign-ins from 10 addresses: {codes.count(401)} x 401, {codes.count(429)} x 429")
    for user, password, address in [("max", "manager-pw", "127.0.0.2"), ("vera", "viewer-pw", "127.0.0.3")]:
        with _from(base, address) as c:
            r = c.post("/login", data={"name": user, "password": password})
            assert r.status_code == 303, (user, r.status_code)
    with _from(base, "127.0.0.10") as c:  # an attacking address itself is held: 10 failures there
        assert c.post("/login", data={"name": "vera", "password": "viewer-pw"}).status_code == 429
    metrics = httpx.get(f"{base}/metrics").text
    assert _counter(metrics, "traycheck_signin_failed_total", "unknown_user") == 50
    assert _counter(metrics, "traycheck_signin_failed_total", "wrong_password") == 50
    assert _counter(metrics, "traycheck_signin_failed_total", "limited") == 1
    rows = store.db.execute("SELECT actor, action, target, detail FROM audit WHERE action = 'sign-in failed'").fetchall()
    assert 1 <= len(rows) <= 25, len(rows)  # audited, but a flood is not written row by row
    assert not any("ghost" in str(r) for r in rows)  # a made-up name (maybe a password typed there) is not kept
    assert ("127.0.0.10", "sign-in failed", "max") in {r[:3] for r in rows}  # a real account is named


def test_a_failed_sign_in_leaves_a_log_line_an_audit_row_and_a_metric(server, caplog):
    """Finding 4: a failed sign-in left no log line, audit row or metric."""
    base, store = server
    with httpx.Client(base_url=base) as c:
        assert c.post("/login", data={"name": "max", "password": "nope"}).status_code == 401
        assert c.post("/login", data={"name": "nobody-here", "password": "nope"}).status_code == 401
    rows = store.db.execute("SELECT actor, target, detail FROM audit WHERE action = 'sign-in failed' "
                            "ORDER BY id").fetchall()
    assert rows == [("127.0.0.1", "max", '{"reason": "wrong_password"}'),
                    ("127.0.0.1", None, '{"reason": "unknown_user"}')]
    lines = [r.getMessage() for r in caplog.records if r.name == "traycheck.signin"]
    assert any("127.0.0.1" in m and "wrong_password" in m and "max" in m for m in lines), lines
    assert not any("nobody-here" in m for m in lines)
    metrics = httpx.get(f"{base}/metrics").text
    assert _counter(metrics, "traycheck_signin_failed_total", "wrong_password") == 1
    assert _counter(metrics, "traycheck_signin_failed_total", "unknown_user") == 1
    assert _counter(metrics, "traycheck_signin_failed_total", "limited") == 0


def test_a_flood_of_failed_sign_ins_is_counted_but_written_at_a_bounded_rate():
    """Finding 4: the audit and the log are rate-limited (a flood cannot fill the disk); the metric counts all."""
    from edge.web.login_limits import FailedSignins

    rows: list = []
    failed = FailedSignins(lambda *row: rows.append(row), burst=20, every_s=30.0)
    for i in range(5000):
        failed(f"10.0.{i % 50}.1", None, "unknown_user")
    assert failed.counts["unknown_user"] == 5000
    assert 20 <= len(rows) <= 21, len(rows)


def _start(folder, **options):
    app, store = build(folder, **options)
    port = free_port()
    web = WebServer(app, "127.0.0.1", port)
    web.start()
    return web, store, f"http://127.0.0.1:{port}"


def test_the_login_limit_survives_a_restart(tmp_path):
    """Finding 9: a limiter kept only in memory gave a guesser a fresh allowance at every restart."""
    from edge.store.store import Store

    web, store, base = _start(tmp_path)
    with httpx.Client(base_url=base) as c:
        codes = [c.post("/login", data={"name": "max", "password": f"g{i}"}).status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    web.stop()
    store.close()
    store = Store(tmp_path / "traycheck.db", outbox=False)  # the same data dir, a new process's app
    app = create_app(store, TOKEN, Menu(), dashboard=Dashboard(store, tmp_path, site="test", snapshot_root=tmp_path))
    port = free_port()
    web = WebServer(app, "127.0.0.1", port)
    web.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            r = c.post("/login", data={"name": "max", "password": "manager-pw"})
            assert r.status_code == 429 and int(r.headers["Retry-After"]) > 200
            assert c.post("/login", data={"name": "vera", "password": "viewer-pw"}).status_code == 303
    finally:
        web.stop()
        store.close()


SECURITY_HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


def test_sign_in_and_changes_on_a_full_disk_are_503_with_retry_after_and_the_headers(small_fs):
    """Finding 5: a sign-in while the disk was full was a 500 text/plain with a traceback and no security
    headers (``Sessions.create``). Now: 503, ``Retry-After``, the headers; pages still read; the login limit
    goes on from memory."""
    from tests.disk_helpers import fill

    web, store, base = _start(small_fs)
    try:
        c, csrf = sign_in(base, "vera", "viewer-pw")
        filler = fill(small_fs)
        with httpx.Client(base_url=base) as anon:
            r = anon.post("/login", data={"name": "max", "password": "manager-pw"})
            assert r.status_code == 503 and r.headers["retry-after"].isdigit(), (r.status_code, r.text[-500:])
            assert all(h in r.headers for h in SECURITY_HEADERS) and "Traceback" not in r.text
            assert "disk" in r.text and r.headers["content-type"].startswith("text/html")
            codes = [anon.post("/login", data={"name": "max", "password": f"g{i}"}).status_code for i in range(6)]
            assert codes == [401] * 5 + [429]  # the limit holds without its table
        assert c.get("/alerts").status_code == 200  # reading needs no space
        r = c.post("/alerts/1/ack", data={"csrf": csrf})
        assert r.status_code == 503 and r.headers["retry-after"].isdigit(), (r.status_code, r.text[-500:])
        assert all(h in r.headers for h in SECURITY_HEADERS) and "Traceback" not in r.text
        filler.unlink()
        r = c.post("/alerts/1/ack", data={"csrf": csrf})
        assert r.status_code == 303
    finally:
        web.stop()
        store.close()


def test_starting_on_a_full_disk_is_one_line_and_exit_2(cli, tmp_path, small_fs):
    """Finding 5: starting on a full disk was a traceback and exit 1 (systemd restarts it for ever)."""
    from edge.store.store import Store
    from test_cli import appliance_config
    from tests.disk_helpers import fill

    data = small_fs / "data"
    Store(data / "traycheck.db", outbox=False).close()  # an installed box: the database is there
    cfg = appliance_config(tmp_path, data_dir=f"data_dir: {data}")
    fill(small_fs)
    r = cli("run", "--config", cfg, timeout=300)
    assert r.returncode == 2, r.stderr[-3000:]
    assert "Traceback" not in r.stderr and "cannot be opened for writing" in r.stderr and "MB free" in r.stderr, \
        r.stderr[-3000:]
    assert len([line for line in r.stderr.splitlines() if line.startswith("error:")]) == 1, r.stderr


def _ready_state() -> dict:
    return {"ready": False, "cameras": {"expo-1": False, "drive": True},
            "camera_state": {"expo-1": {"state": "reconnecting", "reason": "rtsp://admin:***@10.0.0.5:554/s1: "
                                        "connection refused"}},
            "model": "/var/lib/traycheck/models/site-7/best.onnx",
            "storage": "verdicts cannot be stored: database or disk is full"}


def test_readyz_tells_anyone_only_whether_and_what_kind_is_not_ready(tmp_path):
    """Finding 9: /readyz told anyone camera users, hosts and ports, the model path and storage errors."""
    from fastapi.testclient import TestClient

    store = seeded_store(tmp_path)
    app = create_app(store, TOKEN, Menu(), ready=_ready_state, metrics_allow=["127.0.0.1"])
    with TestClient(app) as c:  # the test client's address ("testclient") is not an allowed scraper
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json() == {"ready": False, "not_ready": ["cameras", "storage"]}, r.text
        assert not re.search(r"admin|10\.0\.0\.5|554|onnx|disk|expo", r.text)
        assert c.get("/readyz", headers={"Authorization": "Bearer wrong"}).json().keys() == {"ready", "not_ready"}
        full = c.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"})
        assert full.status_code == 503 and full.json() == _ready_state()
    app = create_app(store, TOKEN, Menu(), ready=lambda: {"ready": True, "cameras": {"a": True}, "storage": "ok",
                                                          "model": "/m.onnx"})
    with TestClient(app) as c:
        r = c.get("/readyz")
        assert r.status_code == 200 and r.json() == {"ready": True, "not_ready": []}
    store.close()


def test_readyz_details_for_an_allowed_address(serve):
    base, _ = serve(metrics_allow=["127.0.0.0/8"])
    r = httpx.get(f"{base}/readyz")
    assert r.status_code == 200 and r.json() == {"ready": True}  # the whole state (no ready() given: just this)
    base, _ = serve(metrics_allow=[])
    assert httpx.get(f"{base}/readyz").json() == {"ready": True, "not_ready": []}


def test_a_few_combining_marks_are_still_an_order_number(server):
    base, store = server
    for order_id in ["Nguye\u0302\u0303n-7", "\u0915\u094d\u0937\u093f-12", "A\u0301\u0302\u0303"]:
        r = httpx.post(f"{base}/api/orders", json={"id": order_id, "items": [{"sku": "WRAP", "qty": 1}]},
                       headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, (order_id, r.text)
    r = httpx.delete(f"{base}/api/orders/A{'%CC%81' * 60}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422 and r.json()["detail"].startswith("order_id: character 5"), r.text
