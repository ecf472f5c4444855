"""Messages the box subscribes to (POS orders), acknowledged only once settled.

paho's network thread only queues a message (``received``); one intake thread runs
its handlers and sends the PUBACK (paho's manual acknowledgement) when every
handler settled it: stored, or refused for good. A handler answers False when it
could not store the message: it is tried again every ``RETRY_S``, still
unacknowledged, so a box that dies meanwhile gets it again from the broker (the
session is persistent). A message id is only acknowledged on the connection it
came on; after a reconnect the broker delivers it again, and storing is idempotent.
"""
from __future__ import annotations

import hashlib
import logging
import queue
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

log = logging.getLogger("traycheck.mqtt")

RETRY_S = 1.0  # a subscribed message its handler could not store is tried again this often

Handler = Callable[[str, bytes], bool]  # (topic, payload) -> settled (acknowledge it); False: not stored, retry


def box_client_id(site: str, data_dir: Path) -> str:
    """A client id stable across restarts of one box (its site, host name and data directory), so the
    broker keeps its session, and distinct for two services on one host."""
    where = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:8]
    return f"traycheck-{site}-{socket.gethostname()}-{where}"


@dataclass(frozen=True)
class Received:
    """A subscribed message waiting for its handler; ``session`` tells whether its ``mid`` is still ours."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    session: int


class Intake:
    """The intake thread of a publisher with subscriptions; ``ack(mid, qos)`` sends a PUBACK and
    ``connected`` tells whether the current connection is up."""

    def __init__(self, handlers: Mapping[str, Handler], ack: Callable[[int, int], object],
                 connected: threading.Event, stop: threading.Event):
        self.handlers = handlers
        self._ack = ack
        self._connected = connected
        self._stop = stop
        self._inbox: queue.Queue[Received] = queue.Queue()
        self._session = 0  # connections so far: a message's mid is only ours to acknowledge on its own one
        self._busy = False  # the intake thread holds a message
        self.retrying = False  # a handler could not store a message and waits to try again
        self.thread = threading.Thread(target=self._run, name="mqtt intake", daemon=True)

    @property
    def unsettled(self) -> int:
        """Messages received and not settled (stored or refused) yet."""
        return self._inbox.qsize() + int(self._busy)

    def new_session(self) -> None:
        """paho's thread, on every connection: ids of messages from before are no longer ours."""
        self._session += 1

    def received(self, msg: mqtt.MQTTMessage) -> None:
        """paho's thread: queue it, nothing else."""
        self._inbox.put(Received(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._session))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                m = self._inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            self._busy = True
            while not self._settle(m):
                self.retrying = True
                if self._stop.wait(RETRY_S):  # unacknowledged: the broker delivers it again after a restart
                    return
            self.retrying = self._busy = False

    def _settle(self, m: Received) -> bool:
        """Run the handlers of ``m``; acknowledge it when every one settled it (True)."""
        settled = True
        for pattern, handler in self.handlers.items():
            if mqtt.topic_matches_sub(pattern, m.topic):
                try:
                    settled = handler(m.topic, m.payload) and settled
                except Exception:  # a bug must not wedge the intake: logged, acknowledged, not retried forever
                    log.exception("handler for %s failed", m.topic)
        if settled and m.qos > 0 and m.session == self._session and self._connected.is_set():
            self._ack(m.mid, m.qos)  # else the broker sends it again on the next connection: idempotent
        return settled
