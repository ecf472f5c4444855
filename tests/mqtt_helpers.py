"""A real Mosquitto broker on a free loopback port, and a collecting subscriber."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, workdir: Path):
        self.dir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                        f"persistence_location {workdir}/\nautosave_interval 1\n")
        self.conf = conf

    def start(self) -> None:
        self.proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


class Collector:
    """Subscribes to traycheck/# with a persistent session; keeps payloads in arrival order."""

    def __init__(self, port: int, topic: str = "traycheck/#"):
        self.messages: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-collector", clean_session=False)
        c.on_connect = lambda cl, u, f, rc, p: (cl.subscribe(topic, qos=1), self.connected.set())
        c.on_disconnect = lambda cl, u, f, rc, p: self.connected.clear()
        c.on_message = self._on_message
        c.reconnect_delay_set(0.2, 1)  # type: ignore[arg-type]
        c.connect_async("127.0.0.1", port, keepalive=5)
        c.loop_start()
        self.client = c
        assert self.connected.wait(10), "collector could not connect"

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload.decode()))

    def unique(self, suffix: str = "") -> list[dict]:
        """Payloads on topics ending with ``suffix``, duplicates (same msg_id) dropped, in order."""
        seen, out = set(), []
        with self.lock:
            for topic, payload in self.messages:
                if not topic.endswith(suffix) or topic.endswith("/status"):
                    continue
                d = json.loads(payload)
                if d["msg_id"] not in seen:
                    seen.add(d["msg_id"])
                    out.append(d)
        return out

    def wait_for(self, n: int, suffix: str = "", timeout: float = 20) -> list[dict]:
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(self.unique(suffix)) < n:
            time.sleep(0.05)
        return self.unique(suffix)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
