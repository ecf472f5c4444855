"""The one writer of the database: every verdict, its alert changes and its MQTT
messages go in one transaction, so a crash can never leave a verdict without
its message in the outbox, nor a message for a verdict that was not stored.

Verdict ids are stable (see ``edge.pipeline.verdicts``): storing the same verdict twice
(a replay restarted after a crash) changes nothing.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from edge.store.db import open_db
from edge.store.timestamps import utcnow
from edge.store.transaction import transaction
from orders.models import Order


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    msg_id: str
    topic: str
    payload: str
    qos: int
    retain: bool


class OrderClosed(Exception):
    """An order re-sent after the box closed it (served, cancelled, expired, set aside): closed orders stay
    closed, so a late or repeated POS message can never queue a tray check against it again."""

    def __init__(self, order_id: str, status: str, reason: str | None):
        self.order_id, self.status, self.reason = order_id, status, reason
        super().__init__(f"order {order_id!r} is {self.state}: a closed order is not reopened "
                         "(send a new order id)")

    @property
    def state(self) -> str:
        """``served``, ``cancelled``, or the reason the box gave up on it (``expired: ...``)."""
        return self.reason or self.status


__all__ = ["OrderClosed", "OutboxMessage", "Store", "utcnow"]


class Store:
    def __init__(self, path: Path, site: str = "site", outbox: bool = True):
        self.path = Path(path)
        self.site = site
        self.use_outbox = outbox  # False when no broker is configured: nothing would ever drain it
        self.db = open_db(self.path)
        self._lock = threading.RLock()  # one writer; paho's thread and the pipeline share it

    def close(self) -> None:
        self.db.close()

    # -- orders ----------------------------------------------------------------
    def put_order(self, order: Order, camera: str | None = None, source: str = "api") -> bool:
        """Insert or update a pending order (idempotent by id); False when nothing changed.

        Raises ``OrderClosed`` when the id names an order that is no longer pending, whatever its lines."""
        now = utcnow()
        lines = [(line.sku, line.qty) for line in order.items]
        with self._lock, transaction(self.db):
            row = self.db.execute("SELECT status, closed_reason FROM orders WHERE id = ?", [order.id]).fetchone()
            if row is not None and row[0] != "pending":
                raise OrderClosed(order.id, row[0], row[1])
            old = [tuple(r) for r in self.db.execute(
                "SELECT sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no", [order.id]).fetchall()]
            if row is not None and old == lines:
                return False
            if row is None:
                self.db.execute("INSERT INTO orders (id, camera, received_at, updated_at, source) VALUES (?,?,?,?,?)",
                                [order.id, camera, now, now, source])
            else:
                self.db.execute("UPDATE orders SET updated_at = ? WHERE id = ?", [now, order.id])
            self.db.execute("DELETE FROM order_lines WHERE order_id = ?", [order.id])
            for i, (sku, qty) in enumerate(lines):
                self.db.execute("INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (?,?,?,?)",
                                [order.id, i, sku, qty])
            return True

    def cancel_order(self, order_id: str) -> bool:
        with self._lock, transaction(self.db):
            cur = self.db.execute("UPDATE orders SET status = 'cancelled', updated_at = ? "
                                  "WHERE id = ? AND status = 'pending'", [utcnow(), order_id])
            return cur.rowcount > 0

    def pending_orders(self, camera: str | None = None) -> list[Order]:
        with self._lock:  # the shared connection may be inside another thread's transaction
            rows = self.db.execute(
                "SELECT id FROM orders WHERE status = 'pending' AND (? IS NULL OR camera IS NULL OR camera = ?) "
                "ORDER BY received_at, id", [camera, camera]).fetchall()
            return [self.order(r[0]) for r in rows]  # type: ignore[misc]

    def pending_orders_routed(self) -> list[tuple[Order, str | None]]:
        """Every pending order with the camera it was routed to (None: any station), oldest first."""
        with self._lock:
            rows = self.db.execute("SELECT id, camera FROM orders WHERE status = 'pending' "
                                   "ORDER BY received_at, id").fetchall()
            out = [(self.order(r[0]), r[1]) for r in rows]
        return [(o, cam) for o, cam in out if o is not None]

    def close_order(self, order_id: str, reason: str, status: str = "cancelled") -> bool:
        """A pending order left the box without a verdict naming it: given up on (expired, set aside:
        ``cancelled``) or served by an earlier tray under another id (``served``). Closed with its
        reason, kept for the dashboard; a later POST of the same id does not reopen it."""
        if status not in ("cancelled", "served"):
            raise ValueError(f"close_order: status {status!r}")
        with self._lock, transaction(self.db):
            cur = self.db.execute("UPDATE orders SET status = ?, closed_reason = ?, updated_at = ? "
                                  "WHERE id = ? AND status = 'pending'", [status, reason, utcnow(), order_id])
            return cur.rowcount > 0

    def order(self, order_id: str) -> Order | None:
        with self._lock:
            lines = self.db.execute("SELECT sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no",
                                    [order_id]).fetchall()
        if not lines:
            return None
        return Order(id=order_id, items=[{"sku": s, "qty": q} for s, q in lines])

    # -- verdicts --------------------------------------------------------------
    def record_verdict(self, record: dict, run: str, snapshot: str | None = None, boxes: dict | None = None) -> bool:
        """Store a verdict record with its tray, alert and outbox rows; False if it was stored before.

        ``boxes`` (``edge.store.snapshots.zone_boxes``) belong to ``snapshot``: they replace the tray's
        boxes only together with a new snapshot."""
        now = utcnow()
        cam = record["camera"]
        with self._lock, transaction(self.db):
            if self.db.execute("SELECT 1 FROM verdicts WHERE id = ?", [record["id"]]).fetchone():
                return False
            before = self.db.execute("SELECT order_id FROM trays WHERE camera = ? AND run = ? AND seq = ?",
                                     [cam, run, record.get("tray", 0)]).fetchone()
            self.db.execute(
                "INSERT INTO trays (camera, run, seq, order_id, rest_t, verdict, seen, expected, snapshot, boxes, "
                "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (camera, run, seq) DO UPDATE SET order_id = excluded.order_id, "
                "verdict = excluded.verdict, seen = excluded.seen, expected = excluded.expected, "
                "boxes = CASE WHEN excluded.snapshot IS NULL THEN trays.boxes ELSE excluded.boxes END, "
                "snapshot = COALESCE(excluded.snapshot, trays.snapshot), updated_at = excluded.updated_at",
                [cam, run, record.get("tray", 0), record.get("order_id"), record.get("rest_t"), record["verdict"],
                 json.dumps(record.get("seen", {})), json.dumps(record.get("expected", {})), snapshot,
                 json.dumps(boxes) if snapshot and boxes is not None else None, now, now])
            tray_id = self.db.execute("SELECT id FROM trays WHERE camera = ? AND run = ? AND seq = ?",
                                      [cam, run, record.get("tray", 0)]).fetchone()[0]
            payload = dict(record, snapshot=snapshot) if snapshot else record
            self.db.execute(
                "INSERT INTO verdicts (id, tray_id, camera, order_id, verdict, video_t, at, confidence, record) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                [record["id"], tray_id, cam, record.get("order_id"), record["verdict"], record["video_t"],
                 record["at"], record.get("confidence"), json.dumps(payload)])
            if record.get("order_id"):
                self.db.execute("UPDATE orders SET status = 'served', updated_at = ? WHERE id = ? "
                                "AND status = 'pending'", [now, record["order_id"]])
            if before and before[0] and before[0] != record.get("order_id"):
                # the pipeline revised a FIFO guess: the order it gave back waits for its own tray again,
                # and must still be pending after a restart
                self.db.execute("UPDATE orders SET status = 'pending', updated_at = ? WHERE id = ? "
                                "AND status = 'served'", [now, before[0]])
            base = f"traycheck/{self.site}/{cam}"
            self._enqueue(f"{record['id']}:verdict", f"{base}/verdict", payload, now)
            alert = self._alert_change(tray_id, record, now)
            if alert is not None:
                self._enqueue(f"{record['id']}:alert", f"{base}/alert", dict(payload, alert=alert), now)
            return True

    def _alert_change(self, tray_id: int, record: dict, now: str) -> dict | None:
        """Open an alert on a mismatch, resolve it when the tray is fixed; the alert payload part."""
        kind = record["verdict"]
        open_row = self.db.execute("SELECT id FROM alerts WHERE tray_id = ? AND state = 'open'", [tray_id]).fetchone()
        detail = json.dumps({"missing": record.get("missing", {}), "extra": record.get("extra", {})})
        if kind == "mismatch":
            if open_row:
                self.db.execute("UPDATE alerts SET detail = ? WHERE id = ?", [detail, open_row[0]])
                return {"id": open_row[0], "state": "open"}
            cur = self.db.execute("INSERT INTO alerts (tray_id, camera, order_id, state, opened_at, detail) "
                                  "VALUES (?,?,?,?,?,?)",
                                  [tray_id, record["camera"], record.get("order_id"), "open", now, detail])
            return {"id": cur.lastrowid, "state": "open"}
        if kind == "resolved" and open_row:
            self.db.execute("UPDATE alerts SET state = 'resolved', closed_at = ?, closed_by = 'tray fixed' "
                            "WHERE id = ?", [now, open_row[0]])
            return {"id": open_row[0], "state": "resolved"}
        return None

    def acknowledge(self, alert_id: int, actor: str, on_behalf_of: str | None = None) -> dict | None:
        """Mark an open alert acknowledged (audit row and MQTT message in the same transaction);
        the alert's new state, or None when it was not open."""
        now = utcnow()
        who = on_behalf_of or actor
        with self._lock, transaction(self.db):
            row = self.db.execute("SELECT a.tray_id, a.camera, a.order_id, a.detail FROM alerts a "
                                  "WHERE a.id = ? AND a.state = 'open'", [alert_id]).fetchone()
            if row is None:
                return None
            self.db.execute("UPDATE alerts SET state = 'acknowledged', closed_at = ?, closed_by = ? WHERE id = ?",
                            [now, who, alert_id])
            self.db.execute("INSERT INTO audit (at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                            [now, actor, "acknowledge", f"alert:{alert_id}",
                             json.dumps({"on_behalf_of": on_behalf_of} if on_behalf_of else {})])
            alert = {"id": alert_id, "state": "acknowledged", "by": who, "at": now}
            payload = {"schema": "traycheck.alert/1", "camera": row[1], "order_id": row[2],
                       "verdict": "acknowledged", **json.loads(row[3]), "alert": alert}
            self._enqueue(f"alert:{alert_id}:acknowledged", f"traycheck/{self.site}/{row[1]}/alert", payload, now)
        return alert

    def flag_tray(self, tray_id: int, actor: str, flagged: bool = True, note: str | None = None) -> dict | None:
        """Mark a tray "counted wrong" (or clear the mark) with an optional note, audited in the same
        transaction; flagged trays are exported first for labelling. The tray's flag state, or None
        when there is no such tray."""
        now = utcnow()
        note = (note or "").strip() or None
        with self._lock, transaction(self.db):
            if self.db.execute("SELECT 1 FROM trays WHERE id = ?", [tray_id]).fetchone() is None:
                return None
            if flagged:
                self.db.execute("UPDATE trays SET flagged_at = ?, flagged_by = ?, flag_note = ? WHERE id = ?",
                                [now, actor, note, tray_id])
            else:
                self.db.execute("UPDATE trays SET flagged_at = NULL, flagged_by = NULL, flag_note = NULL "
                                "WHERE id = ?", [tray_id])
            self.db.execute("INSERT INTO audit (at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                            [now, actor, "flag counted wrong" if flagged else "unflag", f"tray:{tray_id}",
                             json.dumps({"note": note} if note else {})])
        return {"id": tray_id, "flagged": flagged, "by": actor if flagged else None, "at": now if flagged else None,
                "note": note if flagged else None}

    def _enqueue(self, msg_id: str, topic: str, payload: dict, now: str, retain: bool = False) -> None:
        if not self.use_outbox:
            return
        body = json.dumps(dict(payload, msg_id=msg_id), sort_keys=True)
        self.db.execute("INSERT OR IGNORE INTO outbox (msg_id, topic, payload, qos, retain, created_at) "
                        "VALUES (?,?,?,?,?,?)", [msg_id, topic, body, 1, int(retain), now])

    # -- outbox ----------------------------------------------------------------
    # Reads take the lock too: the connection is shared, and without it a reader on another thread
    # sees the rows of a transaction that has not committed (and may yet roll back).
    def outbox(self, limit: int = 100) -> list[OutboxMessage]:
        with self._lock:
            rows = self.db.execute("SELECT seq, msg_id, topic, payload, qos, retain FROM outbox ORDER BY seq "
                                   "LIMIT ?", [limit]).fetchall()
        return [OutboxMessage(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def open_alerts(self) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM alerts WHERE state = 'open'").fetchone()[0]

    def outbox_len(self) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def delivered(self, msg_ids: Iterable[str]) -> None:
        """Remove messages the broker acknowledged."""
        with self._lock, transaction(self.db):
            for m in msg_ids:
                self.db.execute("DELETE FROM outbox WHERE msg_id = ?", [m])

    # -- retention ---------------------------------------------------------------
    def purge(self, days: float, now: datetime | None = None, session_idle_s: float | None = None) -> list[str]:
        """Delete trays (with verdicts and alerts), finished orders, audit rows and undelivered MQTT
        messages older than ``days``, and expired dashboard sessions (past their end, or unused for
        ``session_idle_s``: such a row can never be used again); return the snapshot files that
        belonged to the deleted rows (each verdict owns the snapshot taken for it, the tray its newest)."""
        moment = now or datetime.now(timezone.utc)
        cutoff = (moment - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._lock, transaction(self.db):
            snaps = [r[0] for r in self.db.execute(
                "SELECT snapshot FROM trays WHERE created_at < ? AND snapshot IS NOT NULL UNION "
                "SELECT json_extract(v.record, '$.snapshot') FROM verdicts v JOIN trays t ON t.id = v.tray_id "
                "WHERE t.created_at < ? AND json_extract(v.record, '$.snapshot') IS NOT NULL",
                [cutoff, cutoff]).fetchall()]
            self.db.execute("DELETE FROM trays WHERE created_at < ?", [cutoff])
            self.db.execute("DELETE FROM outbox WHERE created_at < ?", [cutoff])  # its verdicts are gone too
            idle_cut = moment.timestamp() - session_idle_s if session_idle_s is not None else 0.0
            self.db.execute("DELETE FROM sessions WHERE expires < ? OR last_seen < ?", [moment.timestamp(), idle_cut])
            self.db.execute("DELETE FROM orders WHERE updated_at < ? AND status != 'pending'", [cutoff])
            self.db.execute("DELETE FROM audit WHERE at < ?", [cutoff])
        return snaps

    def audit(self, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> None:
        with self._lock, transaction(self.db):
            self.db.execute("INSERT INTO audit (at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                            [utcnow(), actor, action, target, json.dumps(detail or {})])
