"""POS orders over MQTT into the running appliance (real Mosquitto, real service process):
valid orders are stored once however often they are sent; bad ones change nothing."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import paho.mqtt.client as mqtt

from tests.conftest import FIXTURES, ROOT, wait_http_ok
from tests.mqtt_helpers import free_port

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


def test_orders_published_by_the_pos_over_mqtt(tmp_path, broker):
    port = free_port()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(data=tmp_path / "data", src=FIXTURES / "lunch-rush", mqtt_port=broker.port,
                                 port=port))
    p = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pos = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pos-test")
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", p, "service did not get ready")
        time.sleep(1.0)  # its MQTT session subscribes in on_connect
        pos.connect("127.0.0.1", broker.port)
        pos.loop_start()
        good = {"id": "9001", "items": [{"sku": "BURGER_MEAL", "qty": 1}], "camera": "expo-1"}
        for payload in (good, good, {"id": 5}, {"id": "9002", "items": [{"sku": "PIZZA", "qty": 1}]}, "not json"):
            body = payload if isinstance(payload, str) else json.dumps(payload)
            pos.publish("pos/test-site/orders", body, qos=1).wait_for_publish(timeout=5)
        updated = dict(good, items=[{"sku": "BURGER_MEAL", "qty": 2}])
        pos.publish("pos/test-site/orders", json.dumps(updated), qos=1).wait_for_publish(timeout=5)
        time.sleep(2.0)
    finally:
        pos.loop_stop()
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=15)
    assert p.returncode == 0, out[-2000:]
    conn = sqlite3.connect(tmp_path / "data" / "traycheck.db")
    ids = [r[0] for r in conn.execute("SELECT id FROM orders WHERE source = 'mqtt'")]
    assert ids == ["9001"]  # once, although sent three times; the bad ones are not stored
    assert conn.execute("SELECT qty FROM order_lines WHERE order_id = '9001'").fetchall() == [(2,)]  # the update
    rejected = [line for line in out.splitlines() if "rejected" in line]
    assert len(rejected) == 3 and any("PIZZA" in line for line in rejected), rejected  # each bad one, with why
