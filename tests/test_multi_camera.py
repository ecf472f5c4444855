"""Several stations on one box share one POS: one order registry, each order served once,
on the station its tray is at; orders expire; a menu change sets orders aside; orders
for a camera the box does not have are refused."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from detectors.synth.scenario import load_scenario
from detectors.synth.shift import render_shift
from edge.app.config import load_config
from edge.app.service import Service
from orders.menu import Menu
from orders.models import Order
from orders.registry import OrderRegistry
from tests.mqtt_helpers import free_port


def order(oid: str, *lines: tuple[str, int]) -> Order:
    return Order(id=oid, items=[{"sku": s, "qty": q} for s, q in lines])


# -- the registry ----------------------------------------------------------------------
def test_an_order_taken_at_one_station_is_gone_at_every_station():
    reg = OrderRegistry()
    a, b = reg.station("a"), reg.station("b")
    reg.add(order("1", ("BURGER", 1)), None, 0.0)  # any station
    reg.add(order("2", ("FRIES", 1)), "b", 0.0)  # station b only
    assert [p.order.id for p in a.pending()] == ["1"]
    assert [p.order.id for p in b.pending()] == ["1", "2"]
    assert a.get("2") is None and a.take("2") is None  # not a's to serve
    assert a.take("1") is not None
    assert b.get("1") is None and b.take("1") is None and [p.order.id for p in b.pending()] == ["2"]
    assert not reg.add(order("1", ("BURGER", 1)), None, 5.0)  # a late duplicate of a served order


def test_orders_expire_and_the_callback_hears_why():
    now = [0.0]
    closed = []
    reg = OrderRegistry(expire_after_s=60, clock=lambda: now[0], on_closed=closed.append)
    reg.add(order("old", ("BURGER", 1)), None, 0.0)
    now[0] = 30.0
    reg.add(order("new", ("FRIES", 1)), None, 0.0)
    now[0] = 61.0
    assert [p.order.id for p in reg.pending("x")] == ["new"]
    assert [(c.order.id, c.reason) for c in closed] == [("old", "expired: not served within 1 min")]


def test_orders_a_new_menu_lacks_are_set_aside_not_failed_on():
    closed = []
    reg = OrderRegistry(on_closed=closed.append)
    reg.add(order("1", ("BURGER", 1)), None, 0.0)
    reg.add(order("2", ("GONE", 1)), None, 0.0)
    menu = Menu()
    reg.set_aside(menu.__contains__)
    assert [p.order.id for p in reg.pending()] == ["1"]
    assert closed[0].order.id == "2" and "'GONE' is not on the menu" in closed[0].reason


# -- two stations, one POS, no tickets: the real service -----------------------------------
STATION = """\
name: {name}
seed: {seed}
trays:
{trays}
"""
TRAY = """\
  - at: {at}
    dwell: 3.2
    order: {{id: "{id}", items: {items}, sent: -30.0}}
    ticket: none
"""
# every order at least three kitchen mistakes from every other: FIFO can only fit a tray to its own ...
ORDERS = {
    "a": [("A1", [("BURGER_MEAL", 1)]), ("A2", [("NUGGETS", 1), ("SAUCE_BBQ", 2)]),
          ("A3", [("SALAD", 1), ("SUNDAE", 1)])],
    "b": [("B1", [("WRAP", 2), ("DRINK", 2)]), ("B2", [("CHICKEN_SANDWICH", 1), ("SUNDAE", 2)]),
          ("B3", [("BURGER_MEAL", 1)])],
}
# ... except B3, which is A1's twin: once station a has served A1, a stale copy of A1 left at station b
# would be the older exact fit for B3's tray there, and A1 would be served twice


def _shift(tmp: Path, name: str, seed: int) -> Path:
    trays = "".join(TRAY.format(at=1.0 + 6.0 * i, id=oid, items=[{"sku": s, "qty": q} for s, q in lines])
                    for i, (oid, lines) in enumerate(ORDERS[name]))
    (tmp / f"{name}.yaml").write_text(STATION.format(name=f"station-{name}", seed=seed, trays=trays))
    return render_shift(load_scenario(tmp / f"{name}.yaml"), tmp / name)


@pytest.fixture(scope="module")
def stations(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("stations")
    return {"a": _shift(tmp, "a", 31), "b": _shift(tmp, "b", 32)}


def _config(tmp_path: Path, cameras: str, extra: str = "") -> tuple[Path, int]:
    """A config file for these cameras (YAML list items), HTTP on a free loopback port."""
    port = free_port()
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(f"site: two\ndata_dir: {tmp_path / 'data'}\ncameras:\n{cameras}"
                        f"http: {{listen: \"127.0.0.1:{port}\", api_token: tok}}\n{extra}"
                        "retention: {days: 30, min_free_mb: 0}\n")
    return cfg_file, port


def test_two_stations_sharing_one_pos_serve_every_order_once_on_the_right_station(tmp_path, stations):
    cfg_file, port = _config(tmp_path, f"  - {{name: station-a, source: {stations['a'] / 'video.mp4'}, speed: null}}\n"
                                       f"  - {{name: station-b, source: {stations['b'] / 'video.mp4'}, speed: null}}\n")
    svc = Service(load_config(cfg_file), cfg_file, once=True)
    verdicts = []
    a1_served = threading.Event()

    def heard(v, pipe) -> None:
        verdicts.append((pipe.camera, v.order_id, v.verdict))
        if v.order_id == "A1":
            a1_served.set()

    svc.verdict_listeners.append(heard)
    svc.start_io()
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer tok"})
        interleaved = [o for pair in zip(ORDERS["a"], ORDERS["b"]) for o in pair]  # one POS, both stations
        for oid, lines in interleaved:
            r = api.post("/api/orders", json={"id": oid, "items": [{"sku": s, "qty": q} for s, q in lines]})
            assert r.status_code == 200, r.text
        r = api.post("/api/orders", json={"id": "X1", "camera": "drive-thru", "items": [{"sku": "BURGER"}]})
        assert r.status_code == 422 and "unknown camera 'drive-thru'" in r.json()["detail"], r.text
        assert svc.store.order("X1") is None  # refused means not stored either
        station_a, station_b = svc.workers
        station_a.thread.start()
        assert a1_served.wait(600), f"station a never served A1: {verdicts}"
        station_b.thread.start()  # now b's third tray is a twin of A1, which is no longer pending anywhere
        for w in svc.workers:
            assert w.finished.wait(600), f"{w.name} did not reach the end of its video"
        for w in svc.workers:
            w.pipeline.finish(w.last_t or 0.0)
    finally:
        svc.stop()
    served = [(cam, oid) for cam, oid, kind in verdicts if oid is not None]
    assert sorted(set(served)) == sorted([("station-a", o) for o, _ in ORDERS["a"]] +
                                         [("station-b", o) for o, _ in ORDERS["b"]]), verdicts
    by_order: dict[str, set[str]] = {}
    for cam, oid in served:
        by_order.setdefault(oid, set()).add(cam)
    assert all(len(cams) == 1 for cams in by_order.values()), by_order  # never served at two stations


def test_an_unserved_order_expires_and_the_orders_page_says_why(tmp_path, stations):
    from edge.store.users import Users

    cfg_file, port = _config(tmp_path, f"  - {{name: station-a, source: {stations['a'] / 'video.mp4'}}}\n",
                             "orders: {expire_minutes: 0.01}\n")
    svc = Service(load_config(cfg_file), cfg_file)
    Users(svc.store.db).add("max", "manager", "manager-pw")
    svc.start_io()  # no camera: nothing serves the order
    try:
        base = f"http://127.0.0.1:{port}"
        r = httpx.post(f"{base}/api/orders", headers={"Authorization": "Bearer tok"},
                       json={"id": "77", "items": [{"sku": "WRAP", "qty": 1}]})
        assert r.status_code == 200 and [p.order.id for p in svc.orders.pending()] == ["77"]
        deadline = time.monotonic() + 60
        while svc.orders.pending():  # (the service's main loop does this once a second)
            assert time.monotonic() < deadline, "order 77 never expired"
            svc.orders.expire()
            time.sleep(0.05)
        assert svc.recorder.flush(10)  # the transition is written by the recorder's thread
        with httpx.Client(base_url=base) as c:
            assert c.post("/login", data={"name": "max", "password": "manager-pw"}).status_code == 303
            page = c.get("/orders").text
        assert "#77" in page and "expired: not served within 0.01 min" in page
        assert svc.store.pending_orders() == []  # a restart does not bring it back
    finally:
        svc.stop()


def test_an_order_expiring_on_a_camera_thread_never_waits_for_the_database(tmp_path, stations):
    """Expiry runs inside a camera's frame (``pending()``); with the database locked by another writer
    it must return at once and the recorder's thread store the transition once the lock is gone."""
    import sqlite3
    import threading

    from orders.models import Order, OrderLine

    cfg_file, _ = _config(tmp_path, f"  - {{name: station-a, source: {stations['a'] / 'video.mp4'}}}\n",
                          "orders: {expire_minutes: 1}\n")
    svc = Service(load_config(cfg_file), cfg_file)
    svc.start_io()  # no camera: the test's thread plays one
    try:
        svc.store.put_order(Order(id="88", items=[OrderLine(sku="WRAP", qty=1)]))
        svc.orders.add(Order(id="88", items=[OrderLine(sku="WRAP", qty=1)]), None)
        blocker = sqlite3.connect(svc.store.path, timeout=0)
        blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        try:
            svc.orders.clock = lambda: time.monotonic() + 120  # two minutes later: the order expires
            frame = threading.Thread(target=lambda: svc.orders.station("station-a").pending())
            frame.start()
            frame.join(5)
            assert not frame.is_alive(), "the camera thread waited for the locked database"
            assert svc.orders.pending() == []  # gone from memory at once
        finally:
            blocker.rollback()
            blocker.close()
        assert svc.recorder.flush(30)
        assert svc.store.pending_orders() == []
        row = svc.store.db.execute("SELECT status, closed_reason FROM orders WHERE id = '88'").fetchone()
        assert row[0] == "cancelled" and row[1].startswith("expired")
    finally:
        svc.stop()
