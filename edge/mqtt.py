"""MQTT publisher with store-and-forward (paho-mqtt 2.x).

Messages are written to the database outbox in the same transaction as their
verdict; this client drains the outbox in order, QoS 1, and deletes a message
only when the broker acknowledged it (PUBACK). After a broker restart paho
reconnects by itself (with backoff); ``on_connect`` publishes the retained
``online`` status, re-subscribes, and the drain starts again from the oldest
unacknowledged message. The ``offline`` status is the last will, so it also
appears when the process dies. Subscribers drop duplicates by ``msg_id``.

Topics (``<site>`` and ``<camera>`` from the config):

* ``traycheck/<site>/status``           retained ``online`` / ``offline``
* ``traycheck/<site>/<camera>/verdict`` every verdict record
* ``traycheck/<site>/<camera>/alert``   mismatches and their resolution
"""
from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt

from edge.errors import UserError
from edge.store.store import Store

log = logging.getLogger("traycheck.mqtt")


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    site: str = "site"
    client_id: str = ""
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive: int = 30
    max_inflight: int = 20

    @classmethod
    def from_url(cls, url: str, site: str, **kw) -> "MqttSettings":
        """``mqtt://[USER:PASS@]HOST:PORT`` (``mqtts://`` for TLS with the system CAs)."""
        u = urlparse(url)
        if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
            raise UserError(f"--mqtt {url!r}: expected mqtt://[USER:PASS@]HOST:PORT")
        try:
            port = u.port or (8883 if u.scheme == "mqtts" else 1883)
        except ValueError:
            raise UserError(f"--mqtt {url!r}: the port must be a number") from None
        return cls(host=u.hostname, port=port, username=unquote(u.username) if u.username else None,
                   password=unquote(u.password) if u.password else None, site=site,
                   ca_file=kw.pop("ca_file", None) or (ssl.get_default_verify_paths().cafile if u.scheme == "mqtts"
                                                         else None), **kw)

    @property
    def status_topic(self) -> str:
        return f"traycheck/{self.site}/status"


class Publisher:
    """Drains the store's outbox to the broker; ``start()`` once, ``stop()`` at shutdown."""

    def __init__(self, settings: MqttSettings, store: Store,
                 subscriptions: dict[str, Callable[[str, bytes], None]] | None = None):
        self.s = settings
        self.store = store
        self.subscriptions = subscriptions or {}
        self.connected = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[int, str] = {}  # paho mid -> msg_id
        self._early_acks: set[int] = set()  # PUBACKs that beat the bookkeeping of their publish
        self._sent: set[str] = set()
        self.reconnects = 0
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id, clean_session=True)
        if settings.username:
            c.username_pw_set(settings.username, settings.password)
        if settings.ca_file or settings.cert_file:
            c.tls_set(ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file)
        c.will_set(settings.status_topic, "offline", qos=1, retain=True)
        c.reconnect_delay_set(1, 30)
        c.max_inflight_messages_set(settings.max_inflight)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        self.client = c
        self._drainer = threading.Thread(target=self._drain, name="mqtt outbox", daemon=True)

    def start(self) -> None:
        self.client.connect_async(self.s.host, self.s.port, self.s.keepalive)
        self.client.loop_start()
        self._drainer.start()

    def stop(self, flush_s: float = 3.0) -> None:
        """Flush what the broker will take within ``flush_s``, publish ``offline``, disconnect."""
        if self.connected.is_set():
            self.flush(flush_s)
            info = self.client.publish(self.s.status_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self._stop.set()
        self._wake.set()
        if self._drainer.is_alive():  # it reads the database: it must be done before the store closes
            self._drainer.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()

    def flush(self, timeout: float) -> bool:
        """Wait until the outbox is empty (True) or ``timeout`` passes."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.store.outbox_len() == 0:
                return True
            self._wake.set()
            time.sleep(0.05)
        return self.store.outbox_len() == 0

    def notify(self) -> None:
        """New messages are in the outbox."""
        self._wake.set()

    # -- paho callbacks (network thread) ---------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker %s:%d refused the connection: %s", self.s.host, self.s.port, reason_code)
            return
        log.info("MQTT connected to %s:%d", self.s.host, self.s.port)
        client.publish(self.s.status_topic, "online", qos=1, retain=True)
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        with self._lock:
            self._inflight.clear()
            self._early_acks.clear()
            self._sent.clear()  # unacknowledged messages go again, in order
        self.connected.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set() and not self._stop.is_set():
            self.reconnects += 1
            log.warning("MQTT disconnected (%s); paho reconnects with backoff", reason_code)
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            msg_id = self._inflight.pop(mid, None)
            if msg_id is None:
                self._early_acks.add(mid)
        if msg_id is not None:
            self.store.delivered([msg_id])
            self._wake.set()

    def _on_message(self, client, userdata, msg) -> None:
        for pattern, handler in self.subscriptions.items():
            if mqtt.topic_matches_sub(pattern, msg.topic):
                try:
                    handler(msg.topic, msg.payload)
                except Exception:  # a bad payload must not kill paho's network thread
                    log.exception("handler for %s failed", msg.topic)

    # -- outbox drain (own thread) ---------------------------------------------
    def _drain(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if not self.connected.is_set():
                continue
            with self._lock:
                room = self.s.max_inflight - len(self._inflight)
            if room <= 0:
                continue
            for m in self.store.outbox(limit=self.s.max_inflight * 2):
                if room <= 0 or not self.connected.is_set():
                    break
                with self._lock:
                    if m.msg_id in self._sent:
                        continue
                    self._sent.add(m.msg_id)
                # not under our lock: paho may run on_publish under its own lock meanwhile
                info = self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    with self._lock:
                        self._sent.discard(m.msg_id)
                    break
                with self._lock:
                    acked = info.mid in self._early_acks
                    self._early_acks.discard(info.mid)
                    if not acked:
                        self._inflight[info.mid] = m.msg_id
                if acked:
                    self.store.delivered([m.msg_id])
                room -= 1
