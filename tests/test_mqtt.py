"""MQTT against a real Mosquitto broker: ordered, exactly-once-after-dedup delivery,
a broker outage in the middle, and the last will when the service dies."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest

from edge.mqtt import MqttSettings, Publisher
from edge.errors import UserError
from edge.store.store import Store
from tests.mqtt_helpers import Collector

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None and not
                                __import__("os").path.exists("/usr/sbin/mosquitto"), reason="needs mosquitto")


def verdict(i: int) -> dict:
    return {"schema": 1, "id": f"v{i:04d}", "camera": "expo-1", "order_id": str(1000 + i),
            "verdict": "mismatch" if i % 3 == 0 else "ok", "missing": {"fries": 1} if i % 3 == 0 else {},
            "extra": {}, "video_t": float(i), "at": "2026-11-25T12:00:00Z", "tray": i}


def test_url_parsing():
    s = MqttSettings.from_url("mqtt://user:p%40ss@127.0.0.1:1884", site="r1")
    assert (s.host, s.port, s.username, s.password, s.site) == ("127.0.0.1", 1884, "user", "p@ss", "r1")
    with pytest.raises(UserError, match="expected mqtt://"):
        MqttSettings.from_url("http://x", site="r1")


def test_every_message_arrives_once_in_order_across_a_broker_outage(tmp_path, broker):
    store = Store(tmp_path / "db.sqlite", site="r1")
    sub = Collector(broker.port)
    pub = Publisher(MqttSettings(host="127.0.0.1", port=broker.port, site="r1", keepalive=5), store)
    pub.start()
    n = 30
    for i in range(n):
        if i == n // 3:
            broker.stop()  # the middle third is stored while the broker is down
        if i == 2 * n // 3:
            broker.start()
        store.record_verdict(verdict(i), run="r")
        pub.notify()
        time.sleep(0.05)
    got = sub.wait_for(n, "/verdict", timeout=40)
    assert [d["id"] for d in got] == [f"v{i:04d}" for i in range(n)]
    alerts = sub.wait_for(10, "/alert")
    assert [d["id"] for d in alerts] == [f"v{i:04d}" for i in range(0, n, 3)]
    assert pub.flush(10) and store.outbox_len() == 0
    pub.stop()
    sub.stop()


def test_queued_messages_wait_for_the_next_process(tmp_path, broker):
    store = Store(tmp_path / "db.sqlite", site="r1")
    for i in range(5):
        store.record_verdict(verdict(i), run="r")
    broker.stop()
    pub = Publisher(MqttSettings(host="127.0.0.1", port=broker.port, site="r1"), store)
    pub.start()
    time.sleep(1.0)
    assert store.outbox_len() == 7  # 5 verdicts + 2 alerts: nothing lost while no broker answers
    pub.stop(flush_s=0.5)
    broker.start()
    sub = Collector(broker.port)
    pub2 = Publisher(MqttSettings(host="127.0.0.1", port=broker.port, site="r1"), Store(tmp_path / "db.sqlite", site="r1"))
    pub2.start()
    assert [d["id"] for d in sub.wait_for(5, "/verdict")] == [f"v{i:04d}" for i in range(5)]
    pub2.stop()
    sub.stop()


SERVICE = """
import sys, time
from edge.mqtt import MqttSettings, Publisher
from edge.store.store import Store
pub = Publisher(MqttSettings(host="127.0.0.1", port=int(sys.argv[1]), site="r1", keepalive=2), Store(sys.argv[2]))
pub.start()
pub.connected.wait(10)
print("up", flush=True)
time.sleep(60)
"""


def test_last_will_says_offline_when_the_service_dies(tmp_path, broker):
    sub = Collector(broker.port, topic="traycheck/r1/status")
    p = subprocess.Popen([sys.executable, "-c", SERVICE, str(broker.port), str(tmp_path / "db.sqlite")],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "up"
    end = time.monotonic() + 10
    while time.monotonic() < end and ("traycheck/r1/status", "online") not in sub.messages:
        time.sleep(0.05)
    assert ("traycheck/r1/status", "online") in sub.messages
    p.send_signal(signal.SIGKILL)
    p.wait()
    end = time.monotonic() + 15
    while time.monotonic() < end and sub.messages[-1] != ("traycheck/r1/status", "offline"):
        time.sleep(0.05)
    assert sub.messages[-1] == ("traycheck/r1/status", "offline")
    sub.stop()
