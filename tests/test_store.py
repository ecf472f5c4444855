"""Storage on a real SQLite file: migrations, one transaction per verdict, idempotency,
outbox order, alerts, retention, and a database that survives SIGKILL mid-write."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from edge.store.db import MIGRATIONS, open_db, schema_version
from edge.store.store import Store
from edge.store.transaction import transaction
from orders.models import Order

pytestmark = pytest.mark.quick


def verdict(vid: str, kind: str, tray: int = 1, order_id: str | None = "1042", t: float = 5.0) -> dict:
    return {"schema": 1, "id": vid, "camera": "expo-1", "order_id": order_id, "verdict": kind,
            "missing": {"sauce": 1} if kind == "mismatch" else {}, "extra": {}, "video_t": t,
            "at": "2026-11-24T12:00:05Z", "tray": tray, "seen": {"burger": 1}, "expected": {"burger": 1}}


def test_fresh_database_is_migrated_and_old_one_upgraded(tmp_path):
    db = open_db(tmp_path / "a.db")
    assert schema_version(db) == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("INSERT INTO audit (at, actor, action) VALUES ('x', 'me', 'kept')")
    db.close()
    again = open_db(tmp_path / "a.db")  # opening again keeps the data
    assert again.execute("SELECT action FROM audit").fetchone()[0] == "kept"


def test_verdict_alert_and_outbox_in_one_go(tmp_path):
    s = Store(tmp_path / "t.db", site="resto-1")
    s.put_order(Order(id="1042", items=[{"sku": "BURGER", "qty": 1}]))
    assert s.record_verdict(verdict("v1", "mismatch"), run="r1")
    assert not s.record_verdict(verdict("v1", "mismatch"), run="r1")  # same id: nothing changes
    assert s.record_verdict(verdict("v2", "resolved", t=7.0), run="r1")
    msgs = s.outbox()
    assert [m.topic for m in msgs] == ["traycheck/resto-1/expo-1/verdict", "traycheck/resto-1/expo-1/alert",
                                       "traycheck/resto-1/expo-1/verdict", "traycheck/resto-1/expo-1/alert"]
    assert len({m.msg_id for m in msgs}) == 4
    alert = json.loads(msgs[3].payload)["alert"]
    assert alert["state"] == "resolved"
    assert s.db.execute("SELECT COUNT(*) FROM trays").fetchone()[0] == 1
    assert s.db.execute("SELECT status FROM orders WHERE id='1042'").fetchone()[0] == "served"
    s.delivered([msgs[0].msg_id, msgs[1].msg_id])
    assert [m.msg_id for m in s.outbox()] == [msgs[2].msg_id, msgs[3].msg_id]


def test_a_revised_guess_gives_its_order_back_to_the_pending_list(tmp_path):
    """The pipeline revised a tray's FIFO guess (mismatch for 60, then resolved for 61): order 60
    is pending again, in the database too, so a restart still has it for its own tray."""
    s = Store(tmp_path / "t.db")
    for oid in ("60", "61"):
        s.put_order(Order(id=oid, items=[{"sku": "BURGER", "qty": 1}]))
    assert s.record_verdict(verdict("g1", "mismatch", order_id="60"), run="r1")
    assert [p.id for p in s.pending_orders()] == ["61"]
    assert s.record_verdict(verdict("g2", "resolved", order_id="61", t=6.0), run="r1")
    assert [p.id for p in s.pending_orders()] == ["60"]
    assert s.db.execute("SELECT status FROM orders WHERE id='61'").fetchone()[0] == "served"
    s.db.close()
    assert [p.id for p in Store(tmp_path / "t.db").pending_orders()] == ["60"]  # after a restart too


def test_orders_are_idempotent_and_updatable(tmp_path):
    s = Store(tmp_path / "t.db")
    o = Order(id="7", items=[{"sku": "WRAP", "qty": 1}])
    assert s.put_order(o) and not s.put_order(o)
    assert s.put_order(Order(id="7", items=[{"sku": "WRAP", "qty": 2}]))
    assert s.order("7").items[0].qty == 2 and [p.id for p in s.pending_orders()] == ["7"]
    assert s.cancel_order("7") and not s.cancel_order("7") and s.pending_orders() == []


def test_retention_removes_exactly_what_is_old(tmp_path):
    s = Store(tmp_path / "t.db")
    s.record_verdict(verdict("old", "ok", tray=1), run="r", snapshot="snaps/old.jpg")
    s.record_verdict(verdict("new", "ok", tray=2), run="r", snapshot="snaps/new.jpg")
    old = (datetime.now(timezone.utc) - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    s.db.execute("UPDATE trays SET created_at = ? WHERE seq = 1", [old])
    assert s.purge(30) == ["snaps/old.jpg"]
    assert [r[0] for r in s.db.execute("SELECT id FROM verdicts").fetchall()] == ["new"]
    assert s.purge(30) == []


WRITER = """
import sys
from edge.store.store import Store
s = Store(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    i += 1
    s.record_verdict({"schema": 1, "id": f"v{i}", "camera": "c", "order_id": None, "verdict": "mismatch",
                      "missing": {"fries": 1}, "extra": {}, "video_t": float(i), "at": "x", "tray": i}, run="r")
"""


def test_database_survives_sigkill_mid_write(tmp_path):
    path = tmp_path / "k.db"
    for round_ in range(3):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                             cwd=os.getcwd())
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.3 + 0.2 * round_)
        p.send_signal(signal.SIGKILL)
        p.wait()
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # every stored verdict has its tray, alert and two outbox messages: nothing half-written
        n = conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
        assert n > 0
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2 * n
        assert conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == n
        conn.close()


def test_acknowledge_writes_the_alert_audit_and_mqtt_message_together(tmp_path):
    s = Store(tmp_path / "t.db", site="resto")
    rec = {"schema": "traycheck.verdict/1", "id": "v1", "camera": "expo-1", "order_id": "42", "verdict": "mismatch",
           "missing": {"fries": 1}, "extra": {}, "video_t": 3.0, "at": "2026-11-25T12:00:00.000Z", "tray": 1}
    s.record_verdict(rec, run="r")
    alert_id = s.db.execute("SELECT id FROM alerts").fetchone()[0]
    got = s.acknowledge(alert_id, "max", on_behalf_of="kim")
    assert got["state"] == "acknowledged" and got["by"] == "kim"
    msgs = [m for m in s.outbox() if m.msg_id == f"alert:{alert_id}:acknowledged"]
    assert len(msgs) == 1 and msgs[0].topic == "traycheck/resto/expo-1/alert"
    assert '"by": "kim"' in msgs[0].payload and '"missing": {"fries": 1}' in msgs[0].payload
    assert s.db.execute("SELECT actor, target FROM audit").fetchone() == ("max", f"alert:{alert_id}")
    assert s.acknowledge(alert_id, "max") is None  # only an open alert can be acknowledged
    s.close()


def test_reads_never_see_a_transaction_that_has_not_committed(tmp_path):
    """The connection is shared by threads: a read while another thread's transaction is open
    must wait for it, not see its rows (here the transaction rolls back: they never existed)."""
    import threading

    s = Store(tmp_path / "t.db", site="resto-1")
    inside, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with s._lock, transaction(s.db):
                s.db.execute("INSERT INTO outbox (msg_id, topic, payload, qos, retain, created_at) "
                             "VALUES ('m1', 't', '{}', 1, 0, 'now')")
                s.db.execute("INSERT INTO orders (id, received_at, updated_at) VALUES ('9', 'now', 'now')")
                s.db.execute("INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES ('9', 0, 'WRAP', 1)")
                s.db.execute("INSERT INTO alerts (tray_id, camera, state, opened_at) VALUES (1, 'c', 'open', 'x')")
                inside.set()
                release.wait(10)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    s.db.execute("PRAGMA foreign_keys=OFF")  # the alert names no real tray: only its visibility matters here
    t = threading.Thread(target=writer)
    t.start()
    assert inside.wait(10)
    seen: dict = {}
    readers = [threading.Thread(target=lambda k=k, f=f: seen.__setitem__(k, f())) for k, f in {
        "outbox": s.outbox, "outbox_len": s.outbox_len, "pending": s.pending_orders,
        "order": lambda: s.order("9"), "alerts": s.open_alerts}.items()]
    for r in readers:
        r.start()
    time.sleep(0.3)  # the readers had their chance to read the uncommitted rows
    release.set()
    t.join(10)
    for r in readers:
        r.join(10)
    assert seen == {"outbox": [], "outbox_len": 0, "pending": [], "order": None, "alerts": 0}


def test_retention_deletes_every_snapshot_a_tray_had_and_bounds_outbox_and_sessions(tmp_path):
    """A tray's mismatch and its resolution each write a snapshot; the tray row keeps the newest, the
    verdicts their own: purge hands back both, so no file outlives its rows. Undelivered messages of
    purged trays and expired sessions go too."""
    from edge.store.snapshots import SnapshotWriter

    s = Store(tmp_path / "t.db")
    snaps = SnapshotWriter(tmp_path / "snapshots", 0)
    frame = np.full((40, 40, 3), 128, np.uint8)
    for vid, kind in (("m", "mismatch"), ("r", "resolved")):
        rel = snaps.write(vid, frame, (0, 0, 40, 40), "2026-10-01")
        s.record_verdict(verdict(vid, kind, tray=1), run="r", snapshot=rel)
    on_disk = lambda: sorted(str(p.relative_to(snaps.root)) for p in snaps.root.rglob("*.jpg"))  # noqa: E731
    assert on_disk() == ["2026-10-01/m.jpg", "2026-10-01/r.jpg"]
    s.db.execute("INSERT INTO sessions (id, user, created, last_seen, expires) VALUES ('gone', 'u', 0, 0, 1), "
                 "('live', 'u', 0, 0, ?)", [time.time() + 3600])
    old = (datetime.now(timezone.utc) - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    s.db.execute("UPDATE trays SET created_at = ?", [old])
    s.db.execute("UPDATE outbox SET created_at = ?", [old])
    assert snaps.delete(s.purge(30)) == 2
    assert on_disk() == []
    assert s.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert [r[0] for r in s.db.execute("SELECT id FROM sessions").fetchall()] == ["live"]
