"""POS orders over MQTT are acknowledged only once stored, with a real Mosquitto.

The box keeps a persistent session under a stable client id, so orders published
while it is down wait at the broker; an order it cannot store (a real full disk)
gets no PUBACK and is stored once space returns; an order the box already closed
is refused, logged and counted, never queued again.
"""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge.app.mqtt import MqttSettings, Publisher
from edge.app.order_intake import IntakeCounts, take_mqtt_order
from edge.store.store import Store
from orders.menu import Menu
from tests.conftest import FIXTURES, ROOT, wait_http_ok
from tests.mqtt_helpers import free_port, wait_until
from tests.disk_helpers import fill

TOPIC = "pos/box/orders"


def order(i: int | str, lines: int = 1, qty: int = 1) -> dict:
    return {"id": str(i), "items": [{"sku": "BURGER_MEAL", "qty": qty}] * lines}


def pos_client(port: int) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pos-till")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def stored_ids(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return [r[0] for r in conn.execute("SELECT id FROM orders WHERE source = 'mqtt'")]
    except sqlite3.OperationalError:  # not created yet
        return []


class Box:
    """The intake as the service wires it: store, publisher with one subscription, counts."""

    def __init__(self, data: Path, port: int):
        self.store = Store(data / "traycheck.db", site="box")
        self.counts = IntakeCounts()
        self.routed: list[str] = []
        self.pub = Publisher(MqttSettings(host="127.0.0.1", port=port, site="box", client_id="traycheck-box-test"),
                             self.store, {TOPIC: self.take})
        self.pub.start()
        assert self.pub.connected.wait(30), "the box never connected"

    def take(self, topic: str, payload: bytes) -> bool:
        taken = take_mqtt_order(topic, payload, Menu(), ["expo-1"], self.store, self.counts)
        if taken.order is not None:
            self.routed.append(taken.order.id)
        return taken.settled

    def close(self) -> None:
        self.pub.stop(flush_s=0)
        self.store.close()


def send_until_stored(pos: mqtt.Client, box: Box, probe: dict) -> None:
    """The subscription is made in on_connect: publish a probe until it is stored (idempotent by id)."""
    for _ in range(60):
        pos.publish(TOPIC, json.dumps(probe), qos=1).wait_for_publish(timeout=10)
        if wait_until(lambda: probe["id"] in box.routed, 0.5):
            return
    pytest.fail("the box never took the probe order")


def test_an_order_that_cannot_be_stored_gets_no_puback_and_is_stored_after_the_disk_recovers(small_fs, broker):
    """No PUBACK while the disk is full: the broker delivers the orders again to the restarted box, which
    stores them all, in order, once space returns."""
    box = Box(small_fs, broker.port)
    pos = pos_client(broker.port)
    try:
        send_until_stored(pos, box, order("probe"))
        filler = fill(small_fs)
        for i in range(20):
            pos.publish(TOPIC, json.dumps(order(i, lines=50)), qos=1).wait_for_publish(timeout=10)
        assert wait_until(lambda: box.counts.storage_failures >= 3, 30), "the intake never tried to store"
        assert box.pub.intake.retrying and box.pub.intake.unsettled == 20 and box.routed == ["probe"]
        box.close()  # the box goes down with nothing acknowledged...
        box = Box(small_fs, broker.port)  # ...and comes back, the disk still full
        assert wait_until(lambda: box.pub.intake.unsettled == 20 and box.counts.storage_failures >= 2, 30), \
            "the broker did not deliver the unacknowledged orders again"
        assert stored_ids(small_fs / "traycheck.db") == ["probe"]
        filler.unlink()
        assert wait_until(lambda: box.pub.intake.unsettled == 0, 30), "the orders were never stored after recovery"
        assert sorted(stored_ids(small_fs / "traycheck.db")) == sorted(["probe", *map(str, range(20))])
        assert box.routed == list(map(str, range(20)))  # in the order the POS sent them, once each
        assert not box.pub.intake.retrying
    finally:
        pos.loop_stop()
        box.close()


def test_an_order_resent_after_the_box_closed_it_is_refused_logged_and_counted(tmp_path, broker, caplog):
    box = Box(tmp_path, broker.port)
    pos = pos_client(broker.port)
    try:
        send_until_stored(pos, box, order("7001"))
        assert box.store.cancel_order("7001")
        pos.publish(TOPIC, json.dumps(order("7001", qty=3)), qos=1).wait_for_publish(timeout=10)
        assert wait_until(lambda: box.counts.refused.get("closed") == 1, 20), box.counts
        assert box.routed == ["7001"]  # not queued again
        with sqlite3.connect(tmp_path / "traycheck.db") as conn:
            assert conn.execute("SELECT status FROM orders WHERE id = '7001'").fetchone() == ("cancelled",)
            assert conn.execute("SELECT qty FROM order_lines WHERE order_id = '7001'").fetchall() == [(1,)]
        assert any("order '7001' is cancelled" in r.getMessage() for r in caplog.records)
    finally:
        pos.loop_stop()
        box.close()


SERVICE = """\
site: box
data_dir: {data}
cameras:
  - name: expo-1
    source: {src}
    speed: 1
mqtt: {{host: 127.0.0.1, port: {mqtt}, orders_topic: {topic}}}
http: {{listen: "127.0.0.1:{port}", api_token: tok}}
"""


def _service(cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(p: subprocess.Popen) -> str:
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0, out[-2000:]
    return out


def test_orders_published_while_the_service_is_stopped_are_all_stored_once_when_it_starts(tmp_path, broker):
    data, port = tmp_path / "data", free_port()
    db = data / "traycheck.db"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SERVICE.format(data=data, src=FIXTURES / "lunch-rush", mqtt=broker.port, topic=TOPIC, port=port))
    pos = pos_client(broker.port)
    p = _service(cfg)
    try:  # the first start makes the box's session (its subscription) at the broker
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", p, "service did not get ready")
        for _ in range(60):
            pos.publish(TOPIC, json.dumps(order("probe")), qos=1).wait_for_publish(timeout=10)
            if wait_until(lambda: stored_ids(db) == ["probe"], 0.5):
                break
        assert stored_ids(db) == ["probe"], "the service never took the probe order"
    finally:
        _stop(p)
    sent = [pos.publish(TOPIC, json.dumps(order(8000 + i)), qos=1) for i in range(200)]
    for m in sent:
        m.wait_for_publish(timeout=30)  # the broker has them (PUBACK to the POS) while the box is down
    p = _service(cfg)
    try:
        assert wait_until(lambda: len(stored_ids(db)) == 201, 120), f"{len(stored_ids(db))} of 201 stored"
    finally:
        pos.loop_stop()
        out = _stop(p)
    ids = stored_ids(db)
    assert len(ids) == len(set(ids)) == 201 and set(ids) == {"probe", *(str(8000 + i) for i in range(200))}
    assert "session kept by the broker" in out
