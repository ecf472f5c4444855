"""The POS API on a real HTTP server on loopback: token, validation, idempotency, fuzzing."""
from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.store.store import Store
from edge.web.app import create_app
from edge.web.server import WebServer
from orders.menu import Menu
from tests.mqtt_helpers import free_port

pytestmark = pytest.mark.quick

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("api") / "db.sqlite")
    received = []
    app = create_app(store, TOKEN, Menu(), on_order=lambda o, cam: received.append((o.id, cam)))
    port = free_port()
    server = WebServer(app, "127.0.0.1", port)
    server.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        yield client, store, received
    server.stop()


def count(store: Store) -> tuple[int, int]:
    return (store.db.execute("SELECT COUNT(*) FROM orders").fetchone()[0],
            store.db.execute("SELECT COUNT(*) FROM order_lines").fetchone()[0])


def test_health_without_token(api):
    client, _, _ = api
    assert client.get("/healthz").json() == {"status": "ok"}


def test_orders_need_a_token(api):
    client, store, _ = api
    before = count(store)
    body = {"id": "t1", "items": [{"sku": "BURGER", "qty": 1}]}
    assert client.post("/api/orders", json=body).status_code == 401
    assert client.post("/api/orders", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.delete("/api/orders/t1").status_code == 401
    assert count(store) == before


def test_create_update_idempotent_cancel(api):
    client, store, received = api
    body = {"id": "5001", "items": [{"sku": "BURGER_MEAL", "qty": 1}], "camera": "expo-1"}
    assert client.post("/api/orders", json=body, headers=AUTH).json() == {"id": "5001", "stored": True}
    assert client.post("/api/orders", json=body, headers=AUTH).json() == {"id": "5001", "stored": False}
    body["items"][0]["qty"] = 2
    assert client.post("/api/orders", json=body, headers=AUTH).json()["stored"] is True
    assert store.order("5001").items[0].qty == 2
    assert received.count(("5001", "expo-1")) == 2
    assert client.delete("/api/orders/5001", headers=AUTH).json() == {"id": "5001", "cancelled": True}
    assert client.delete("/api/orders/nope", headers=AUTH).status_code == 404


@pytest.mark.parametrize("close,state", [
    (lambda c, s, oid: c.delete(f"/api/orders/{oid}", headers=AUTH), "cancelled"),
    (lambda c, s, oid: s.close_order(oid, "expired: not served within 30 min"), "expired: not served within 30 min"),
    (lambda c, s, oid: s.db.execute("UPDATE orders SET status = 'served' WHERE id = ?", [oid]), "served"),
])
def test_a_closed_order_sent_again_is_refused_with_409_and_its_state(api, close, state):
    client, store, received = api
    oid = f"closed-{state.split(':')[0]}"
    body = {"id": oid, "items": [{"sku": "BURGER_MEAL", "qty": 1}]}
    assert client.post("/api/orders", json=body, headers=AUTH).json()["stored"] is True
    close(client, store, oid)
    before, routed = count(store), len(received)
    for again in (body, dict(body, items=[{"sku": "WRAP", "qty": 2}])):  # the same, and other lines
        r = client.post("/api/orders", json=again, headers=AUTH)
        assert r.status_code == 409, r.text
        assert r.json()["state"] == state and r.json()["id"] == oid
        assert f"order {oid!r} is {state}" in r.json()["detail"]
    assert count(store) == before and len(received) == routed  # nothing stored, nothing queued
    assert store.order(oid).items[0].sku == "BURGER_MEAL" and oid not in [o.id for o in store.pending_orders()]


@pytest.mark.parametrize("body,field", [
    ({"id": "x", "items": [{"sku": "BURGER", "qty": 0}]}, "items.0.qty"),
    ({"id": "x", "items": []}, "items"),
    ({"items": [{"sku": "BURGER"}]}, "id"),
    ({"id": "x", "items": [{"sku": "PIZZA", "qty": 1}]}, "items.0.sku"),
    ({"id": "x", "items": [{"sku": "BURGER", "qty": 1, "price": 3}]}, "items.0.price"),
    ({"id": "x" * 65, "items": [{"sku": "BURGER"}]}, "id"),
])
def test_bad_payloads_name_the_field(api, body, field):
    client, store, _ = api
    before = count(store)
    r = client.post("/api/orders", json=body, headers=AUTH)
    assert r.status_code == 422 and r.json()["detail"].startswith(field + ":"), r.text
    assert count(store) == before


def test_not_json_at_all(api):
    client, store, _ = api
    before = count(store)
    r = client.post("/api/orders", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422 and count(store) == before


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
bad_lines = st.lists(st.fixed_dictionaries({"sku": json_values, "qty": json_values}), max_size=3)
payloads = st.one_of(json_values, st.fixed_dictionaries({"id": json_values, "items": bad_lines | json_values}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads)
def test_fuzzed_payloads_never_500_and_store_nothing_when_rejected(api, payload):
    client, store, _ = api
    before = count(store)
    r = client.post("/api/orders", json=payload, headers=AUTH)
    assert r.status_code in (200, 422), (r.status_code, r.text)
    if r.status_code == 422:
        assert count(store) == before and r.json()["detail"]
