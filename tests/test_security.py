"""Dashboard and API security (issue 13), tried as an attacker on the LAN would: every finding is
replayed over real HTTP (uvicorn on loopback, a real SQLite file) and must get the safe answer;
the hypothesis fuzz over every route is in test_security_fuzz.py."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import edge.store.users as users_module
from security_helpers import TOKEN, sign_in, signed_in

pytestmark = pytest.mark.quick

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
    from edge.errors import InvalidInput

    for key in ("trusted_proxies", "metrics_allow"):
        p = tmp_path / f"{key}.yaml"
        p.write_text(f"cameras: [{{name: a, source: x.mp4}}]\nhttp: {{{key}: ['10.0.0.0/24', 'lan-box']}}\n")
        with pytest.raises(InvalidInput, match=rf"http\.{key}.*'lan-box' is not an IP address"):
            load_config(p)
