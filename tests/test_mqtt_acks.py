"""PUBACK bookkeeping: deleted on the drain thread in batches, never on paho's network thread, and a
wrapped 16-bit message id is never taken for an older message's PUBACK (real Mosquitto, real SQLite)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Iterable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.client import MQTTMessageInfo

from edge.app.mqtt import MqttSettings, Publisher
from edge.app.mqtt_acks import AckBook
from edge.store.store import Store
from tests.mqtt_helpers import Collector, wait_until
from tests.test_mqtt import verdict

needs_broker = pytest.mark.skipif(shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"),
                                  reason="needs mosquitto")


def info(mid: int) -> MQTTMessageInfo:
    return MQTTMessageInfo(mid)


def test_a_stale_ack_is_not_taken_for_a_new_message_with_the_same_mid():
    book = AckBook()
    book.on_ack(1)  # PUBACK of the 'online' status (mid 1): not one of ours
    assert book.collect() == []  # the drain collects before it hands anything over
    book.hand("a", info(1))  # 65535 messages later, the counter wrapped onto mid 1
    assert book.collect() == [] and book.holds("a") and book.unacked() == 1
    book.on_ack(1)
    assert book.collect() == ["a"] and not book.holds("a") and len(book) == 0


def test_an_ack_that_beats_the_bookkeeping_of_its_publish_still_counts():
    book = AckBook()
    book.on_ack(7)  # paho's thread saw the PUBACK before publish() returned to the drain thread
    book.hand("b", info(7))
    assert book.collect() == ["b"]


def test_many_wraps_of_the_message_id_never_mark_the_wrong_message():
    """140 000 messages (two wraps), 20 in flight, a status publish every 97 mids whose ack is not ours:
    each message is acknowledged exactly when its own PUBACK came, in order."""
    book, mid, in_flight, done = AckBook(), 0, [], []
    seen: set[str] = set()

    def next_mid() -> int:
        nonlocal mid
        mid = mid % 65535 + 1
        return mid

    for n in range(140_000):
        got = book.collect()
        done += got
        seen.update(got)
        if n % 97 == 0:
            book.on_ack(next_mid())  # someone else's publish and its ack
        m = info(next_mid())
        book.hand(f"m{n}", m)
        in_flight.append((f"m{n}", m.mid))
        if len(in_flight) == 20:
            key, acked_mid = in_flight.pop(0)
            assert key not in seen  # not taken for delivered before its own PUBACK
            book.on_ack(acked_mid)
    done += book.collect()
    assert done == [f"m{n}" for n in range(140_000 - 19)]


class GatedStore(Store):
    """A real store whose delete waits for a gate: stands for a slow fsync; records who called it."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.gate = threading.Event()
        self.calls: list[tuple[str, list[str]]] = []

    def delivered(self, msg_ids: Iterable[str]) -> None:
        ids = list(msg_ids)
        self.calls.append((threading.current_thread().name, ids))
        self.gate.wait(60)
        super().delivered(ids)


@needs_broker
def test_a_slow_delete_runs_in_batches_on_the_drain_thread_and_never_stalls_pahos_thread(tmp_path, broker):
    store = GatedStore(tmp_path / "db.sqlite", site="r1")
    for i in (1, 2, 4, 5, 7, 8, 10, 11, 13, 14):  # ok verdicts: one message each
        store.record_verdict(verdict(i), run="r")
    orders = threading.Event()
    pub = Publisher(MqttSettings(host="127.0.0.1", port=broker.port, site="r1", client_id="box-r1"), store,
                    {"pos/r1/orders": lambda topic, payload: orders.set()})
    pub.start()
    pos = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pos-test")
    try:
        assert wait_until(lambda: store.calls, 60), "no PUBACK was ever booked"  # the first delete is now stuck
        # paho's network thread is free: a POS order still comes in while the delete waits
        pos.connect("127.0.0.1", broker.port)
        pos.loop_start()
        end = time.monotonic() + 60
        while not orders.is_set() and time.monotonic() < end:  # sent until it lands: the subscription may be late
            pos.publish("pos/r1/orders", "{}", qos=1).wait_for_publish(timeout=10)
            orders.wait(0.5)
        assert orders.is_set(), "paho's network thread is stalled by the database delete"
        assert wait_until(lambda: pub._acks.unacked() == 0, 60)  # every PUBACK arrived meanwhile
        assert store.outbox_len() == 10  # nothing deleted yet: the delete is still waiting
    finally:
        store.gate.set()
        pos.loop_stop()
    assert pub.flush(60)
    pub.stop()
    assert {name for name, _ in store.calls} == {"mqtt outbox"}
    assert sorted(sum((ids for _, ids in store.calls), [])) == sorted(f"v{i:04d}:verdict" for i in
                                                                      (1, 2, 4, 5, 7, 8, 10, 11, 13, 14))
    assert len(store.calls) <= 2  # the acks that came during the slow delete went in one transaction


@needs_broker
def test_a_wrapped_message_id_waits_for_its_own_puback(tmp_path, broker):
    store = Store(tmp_path / "db.sqlite", site="r1")
    sub = Collector(broker.port)
    pub = Publisher(MqttSettings(host="127.0.0.1", port=broker.port, site="r1", keepalive=30), store)
    pub.start()
    assert pub.connected.wait(60)
    store.record_verdict(verdict(1), run="r")
    pub.notify()
    assert wait_until(lambda: store.outbox_len() == 0, 60)  # the 'online' status (mid 1) is long acknowledged
    pub.client._last_mid = 65535  # paho's 16-bit counter wraps: the next message gets mid 1 again
    os.kill(broker.proc.pid, signal.SIGSTOP)  # the broker is frozen: no PUBACK can come
    try:
        store.record_verdict(verdict(2), run="r")
        pub.notify()
        assert wait_until(lambda: pub.in_flight == 1, 30)
        assert pub.client._last_mid == 1
        rounds = pub.drain_rounds
        pub.notify()
        assert wait_until(lambda: pub.drain_rounds >= rounds + 2, 30)  # the drain went round in between
        assert store.outbox_len() == 1 and pub.in_flight == 1  # still waiting for its own PUBACK
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
    assert ids_of(sub.wait_for(2, "/verdict", timeout=60)) == ["v0001", "v0002"]
    assert wait_until(lambda: store.outbox_len() == 0, 60)
    pub.stop()
    sub.stop()


def ids_of(msgs: list[dict]) -> list[str]:
    return [d["id"] for d in msgs]


class FailingStore(Store):
    """A real store whose deletes fail while ``failing`` is set, as on a full disk."""

    failing = True

    def delivered(self, msg_ids: Iterable[str]) -> None:
        if self.failing:
            raise sqlite3.OperationalError("database or disk is full")
        super().delivered(msg_ids)


@needs_broker
def test_when_deletes_fail_health_still_goes_out_and_nothing_is_lost_or_flooded(tmp_path, broker):
    store = FailingStore(tmp_path / "db.sqlite", site="r1")
    sub = Collector(broker.port)
    pub = Publisher(MqttSettings(host="127.0.0.1", port=broker.port, site="r1"), store)
    pub.start()
    assert pub.connected.wait(60)
    for i in (1, 2, 4):
        store.record_verdict(verdict(i), run="r")
    pub.notify()
    assert ids_of(sub.wait_for(3, "/verdict", timeout=60)) == ["v0001", "v0002", "v0004"]
    problem = {"state": "degraded", "problems": [{"kind": "storage", "detail": "database or disk is full"}]}
    pub.publish_health(problem)
    assert wait_until(lambda: ("traycheck/r1/health", json.dumps(problem, sort_keys=True)) in sub.messages, 30)
    rounds = pub.drain_rounds
    assert wait_until(lambda: pub.drain_rounds >= rounds + 3, 30)  # the drain keeps retrying the delete...
    assert store.outbox_len() == 3  # ...the rows stay until their deletion is booked
    assert len([m for t, m in sub.messages if t.endswith("/verdict")]) == 3  # and are not sent again meanwhile
    store.failing = False
    assert wait_until(lambda: store.outbox_len() == 0, 30)
    pub.stop()
    sub.stop()
