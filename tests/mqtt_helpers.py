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
        self.listening_at = 0.0  # time.monotonic() when the port last accepted a connection after start()
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                        f"persistence_location {workdir}/\nautosave_interval 1\n")
        self.conf = conf

    def start(self, timeout: float = 30) -> None:
        """Start mosquitto and return once its port accepts connections (``timeout`` is only an upper bound)."""
        self.proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                self.listening_at = time.monotonic()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited with status {self.proc.returncode}")
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


class Collector:
    """Subscribes to traycheck/# with a persistent session; keeps payloads in arrival order."""

    def __init__(self, port: int, topic: str = "traycheck/#", client_id: str = "test-collector"):
        self.messages: list[tuple[str, str]] = []
        self.arrived: dict[str, float] = {}  # msg_id -> time.monotonic() of its first arrival
        self.lock = threading.Lock()
        self.connected = threading.Event()  # set on the SUBACK: from then on nothing published is missed
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topic, qos=1)
        c.on_subscribe = lambda cl, u, mid, rcs, p: self.connected.set()
        c.on_disconnect = lambda cl, u, f, rc, p: self.connected.clear()
        c.on_message = self._on_message
        c.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # back soon after a broker restart
        c.connect_async("127.0.0.1", port, keepalive=5)
        c.loop_start()
        self.client = c
        assert self.connected.wait(60), "collector could not connect and subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        now = time.monotonic()
        text = msg.payload.decode()
        try:
            msg_id = json.loads(text).get("msg_id") if text.startswith("{") else None
        except ValueError:
            msg_id = None
        with self.lock:
            self.messages.append((msg.topic, text))
            if msg_id is not None:
                self.arrived.setdefault(msg_id, now)

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
        """Wait until ``n`` distinct messages arrived on ``suffix`` (``timeout`` is only an upper bound)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(self.unique(suffix)) < n:
            time.sleep(0.05)
        return self.unique(suffix)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_until(cond, timeout: float, step: float = 0.02) -> bool:
    """Poll ``cond`` until it is true (True) or ``timeout`` passes (False): an upper bound, not a sleep."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())
