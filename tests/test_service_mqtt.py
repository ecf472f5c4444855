"""POS orders over MQTT into the running appliance (real Mosquitto, real service process):
valid orders are stored once however often they are sent; bad ones change nothing."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from tests.conftest import FIXTURES, ROOT, wait_http_ok
from tests.mqtt_helpers import free_port, wait_until

CONFIG = """\
site: test-site
data_dir: {data}
cameras:
  - name: expo-1
    source: {src}
    speed: 2
mqtt: {{host: 127.0.0.1, port: {mqtt_port}, orders_topic: pos/test-site/orders}}
http: {{listen: "127.0.0.1:{port}", api_token: tok}}
"""


def order_qty(db: Path, order_id: str) -> int | None:
    """The stored quantity of the order's first line (None while it is not stored)."""
    if not db.exists():
        return None
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute("SELECT qty FROM order_lines WHERE order_id = ?", [order_id]).fetchone()
    except sqlite3.OperationalError:  # not created yet
        return None
    return row[0] if row else None


def resend_until(pos: mqtt.Client, order: dict, done, timeout: float = 60) -> bool:
    """Publish ``order`` every half second until ``done()`` (an upper bound, not a sleep)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pos.publish("pos/test-site/orders", json.dumps(order), qos=1).wait_for_publish(timeout=30)
        if wait_until(done, 0.5):
            return True
    return False


def test_orders_published_by_the_pos_over_mqtt(tmp_path, broker):
    port = free_port()
    db = tmp_path / "data" / "traycheck.db"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(data=tmp_path / "data", src=FIXTURES / "lunch-rush", mqtt_port=broker.port,
                                 port=port))
    p = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pos = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pos-test")
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", p, "service did not get ready")
        pos.connect("127.0.0.1", broker.port)
        pos.loop_start()
        good = {"id": "9001", "items": [{"sku": "BURGER_MEAL", "qty": 1}], "camera": "expo-1"}
        # its MQTT session subscribes in on_connect: send the first order until it is stored (idempotent)
        assert resend_until(pos, good, lambda: order_qty(db, "9001") == 1), "the service never took the order"
        for payload in (good, {"id": 5}, {"id": "9002", "items": [{"sku": "PIZZA", "qty": 1}]}, "not json"):
            body = payload if isinstance(payload, str) else json.dumps(payload)
            pos.publish("pos/test-site/orders", body, qos=1).wait_for_publish(timeout=30)
        updated = dict(good, items=[{"sku": "BURGER_MEAL", "qty": 2}])
        pos.publish("pos/test-site/orders", json.dumps(updated), qos=1).wait_for_publish(timeout=30)
        # one session, QoS 1, one handler thread: when the update is in, the bad ones were handled before it
        assert wait_until(lambda: order_qty(db, "9001") == 2, 60), "the update never arrived"
    finally:
        pos.loop_stop()
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=15)
    assert p.returncode == 0, out[-2000:]
    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute("SELECT id FROM orders WHERE source = 'mqtt'")]
    assert ids == ["9001"]  # once, although sent at least three times; the bad ones are not stored
    assert conn.execute("SELECT qty FROM order_lines WHERE order_id = '9001'").fetchall() == [(2,)]  # the update
    rejected = [line for line in out.splitlines() if "rejected" in line]
    assert len(rejected) == 3 and any("PIZZA" in line for line in rejected), rejected  # each bad one, with why
