"""MQTT publisher with store-and-forward (paho-mqtt 2.x).

Messages are written to the database outbox in the same transaction as their
verdict; this client drains the outbox in order, QoS 1, and deletes a message
only when the broker acknowledged it (PUBACK). Each row is handed to paho once
per process; paho keeps what is unacknowledged and sends it again, in order,
after a reconnect. paho's thread only notes PUBACKs; the drain thread deletes
the delivered rows, one transaction per batch (``edge/app/mqtt_acks.py``). After a
broker restart paho reconnects within ``reconnect_max_s``; ``on_connect``
publishes the retained ``online`` status, re-subscribes and wakes the drain at
once. The ``offline`` status is the last will, so it also appears when the
process dies. Subscribers drop duplicates by ``msg_id``.

Messages the box subscribes to (POS orders) are acknowledged only once they are
stored (``edge/app/mqtt_intake.py``), over a persistent session under a stable
client id, so the broker keeps what is published while the box is down.

Topics and payloads (status, health, camera health, verdict, alert): docs/mqtt.md.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping

import paho.mqtt.client as mqtt

from edge.app.mqtt_acks import AckBook
from edge.app.mqtt_intake import Handler, Intake
from edge.app.mqtt_settings import MqttSettings, paho_client
from edge.store.store import Store

log = logging.getLogger("traycheck.mqtt")

_STATE = "state"  # AckBook keys of retained states are (_STATE, topic) (outbox keys are msg_id strings)
STUCK_S = 60  # connected this long and still no PUBACK: hand the message to paho again

__all__ = ["MqttSettings", "Publisher", "STUCK_S"]


class Publisher:
    """Drains the store's outbox to the broker; ``start()`` once, ``stop()`` at shutdown."""

    def __init__(self, settings: MqttSettings, store: Store,
                 subscriptions: Mapping[str, Handler] | None = None):
        if subscriptions and not settings.client_id:
            raise ValueError("subscriptions need a stable client_id (a persistent session)")
        self.settings = settings
        self.store = store
        self.subscriptions = subscriptions or {}
        self.connected = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards the health fields; never held while calling into paho
        self._acks = AckBook()  # drain thread only, except its on_ack
        self._undeleted: list[str] = []  # acknowledged, delete failed: retried, never sent again meanwhile
        self._skipped: set[str] = set()  # rows paho cannot take (bad topic): logged once, kept in the outbox
        self._states: dict[str, str] = {}  # retained state topic -> its latest payload (JSON)
        self._dirty: set[str] = set()  # state topics whose latest payload still has to go out
        self._last_error = ""
        self._refused_logged = False
        self._connected_at = time.monotonic()
        self.reconnects = 0
        self.drain_rounds = 0  # passes of the drain loop: progress a watchdog or a test can wait on
        c = paho_client(settings, persistent=bool(self.subscriptions))
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        self.client = c
        self._drainer = threading.Thread(target=self._drain, name="mqtt outbox", daemon=True)
        self.intake = Intake(self.subscriptions, c.ack, self.connected, self._stop)

    def start(self) -> None:
        self.client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive)
        self.client.loop_start()
        self._drainer.start()
        if self.subscriptions:
            self.intake.thread.start()

    def stop(self, flush_s: float = 3.0) -> None:
        """Flush what the broker will take within ``flush_s``, publish ``offline``, disconnect."""
        if self.connected.is_set():
            self.flush(flush_s)
            info = self.client.publish(self.settings.status_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self._stop.set()
        self._wake.set()
        for t in (self._drainer, self.intake.thread):  # they use the database: done before the store closes
            if t.is_alive():
                t.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()

    def flush(self, timeout: float) -> bool:
        """Wait until the outbox is empty (True) or ``timeout`` passes."""
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

    def publish_health(self, payload: dict) -> None:
        """Publish the appliance's health to ``traycheck/<site>/health`` (retained, QoS 1).

        State, not an event: it skips the outbox (storage may be the very problem), only the latest
        payload counts, and it goes out again after every reconnect. Never blocks."""
        self._publish_state(self.settings.health_topic, payload)

    def publish_camera_health(self, camera: str, payload: dict) -> None:
        """Publish a camera's health to ``traycheck/<site>/<camera>/health``: retained, latest only,
        like ``publish_health``."""
        self._publish_state(f"traycheck/{self.settings.site}/{camera}/health", payload)

    def _publish_state(self, topic: str, payload: dict) -> None:
        body = json.dumps(payload, sort_keys=True)
        with self._lock:
            self._states[topic] = body
            self._dirty.add(topic)
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """Messages handed to paho and not yet acknowledged."""
        return len(self._acks)

    # -- paho callbacks (network thread): no I/O, no waiting -----------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if not self._refused_logged:  # paho retries every second or two: say it once
                log.error("MQTT broker %s:%d refused the connection: %s", self.settings.host, self.settings.port,
                          reason_code)
                self._refused_logged = True
            return
        self._refused_logged = False
        self.intake.new_session()
        log.info("MQTT connected to %s:%d%s", self.settings.host, self.settings.port,
                 " (session kept by the broker)" if flags.session_present else "")
        client.publish(self.settings.status_topic, "online", qos=1, retain=True)
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        with self._lock:
            self._dirty = set(self._states)  # the broker may have lost them
        self._connected_at = time.monotonic()
        # what paho held unacknowledged it sends again itself, right after this callback
        self.connected.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set() and not self._stop.is_set():
            self.reconnects += 1
            log.warning("MQTT disconnected (%s); paho reconnects within %g s", reason_code,
                        self.settings.reconnect_max_s)
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._acks.on_ack(mid)
        self._wake.set()

    def _on_message(self, client, userdata, msg) -> None:
        self.intake.received(msg)

    # -- the drain thread ------------------------------------------------------------
    def _drain(self) -> None:
        while True:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            self.drain_rounds += 1
            # health first and on its own: it must go out even while the database fails
            healthy = self._step(self._send_health) if self.connected.is_set() else True
            settled = self._step(self._settle)
            if self._stop.is_set():
                return
            sent = self._step(self._send_outbox) if self.connected.is_set() else True
            if healthy and settled and sent:
                if self._last_error:
                    log.info("MQTT outbox: working again")
                    self._last_error = ""
            elif self._stop.wait(1.0):  # an error: try again in a second
                return

    def _step(self, fn: Callable[[], None]) -> bool:
        """Run one drain step; an error (the database busy or full, ...) is logged once and retried."""
        try:
            fn()
        except Exception as e:  # nothing is lost: the rows stay in the outbox until a PUBACK is booked
            if str(e) != self._last_error:
                log.error("MQTT %s: %s (retrying)", fn.__name__.strip("_").replace("_", " "), e)
                self._last_error = str(e)
            return False
        return True

    def _settle(self) -> None:
        """Delete the rows the broker acknowledged, in one transaction per batch."""
        for key in self._acks.collect():
            if isinstance(key, tuple):
                self._wake.set()  # a newer health payload may be waiting for this one
            else:
                self._undeleted.append(key)  # type: ignore[arg-type]
        if self._undeleted:
            self.store.delivered(self._undeleted)
            self._undeleted = []

    def _send_health(self) -> None:
        with self._lock:  # one at a time per topic, so a late resend never overwrites a newer retained state
            due = [(t, self._states[t]) for t in sorted(self._dirty) if not self._acks.holds((_STATE, t))]
            self._dirty.difference_update(t for t, _ in due)
        for topic, body in due:
            info = self.client.publish(topic, body, qos=1, retain=True)
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: paho keeps it for the reconnect
                self._acks.hand((_STATE, topic), info)
            else:
                with self._lock:
                    self._dirty.add(topic)

    def _send_outbox(self) -> None:
        if time.monotonic() - self._connected_at > STUCK_S:  # a safety net: paho resends what it holds
            for key in self._acks.overdue(STUCK_S):
                log.warning("MQTT message %s unacknowledged for %d s: sending it again", key, STUCK_S)
                self._acks.forget(key)
        room = self.settings.max_inflight - len(self._acks)
        if room <= 0:
            return
        undeleted = set(self._undeleted)
        for m in self.store.outbox(limit=self.settings.max_inflight * 2 + len(self._skipped) + len(undeleted)):
            if room <= 0 or not self.connected.is_set():
                return
            if self._acks.holds(m.msg_id) or m.msg_id in self._skipped or m.msg_id in undeleted:
                continue
            try:
                info = self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
            except ValueError as e:  # a topic or payload paho refuses: never sendable, never blocks the rest
                log.error("MQTT message %s cannot be sent (%s): kept in the outbox, skipped", m.msg_id, e)
                self._skipped.add(m.msg_id)
                continue
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                return  # paho's queue is full: the next wake tries again, in order
            self._acks.hand(m.msg_id, info)
            room -= 1
