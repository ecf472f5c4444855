"""The one writer of the database: every verdict, its alert changes and its MQTT
messages go in one transaction, so a crash can never leave a verdict without
its message in the outbox, nor a message for a verdict that was not stored.

``Store`` holds the connection, the lock and the transactions; the rows each
change writes are in ``order_book`` (orders), ``verdict_rows`` (a verdict's tray,
verdict and alert), ``staff_actions`` (audited changes by hand), ``outbox`` and
``retention``.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from edge.store import order_book, retention, staff_actions, verdict_rows
from edge.store import outbox as mqtt_outbox
from edge.store.db import open_db
from edge.store.order_book import OrderClosed
from edge.store.outbox import OutboxMessage
from edge.store.timestamps import utcnow
from edge.store.transaction import transaction
from orders.models import Order

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
    # Reads take the lock too: the connection is shared, and without it a reader on another thread
    # sees the rows of a transaction that has not committed (and may yet roll back).
    def put_order(self, order: Order, camera: str | None = None, source: str = "api") -> bool:
        """Insert or update a pending order (idempotent by id); False when nothing changed.

        Raises ``OrderClosed`` when the id names an order that is no longer pending, whatever its lines."""
        with self._lock, transaction(self.db):
            return order_book.put_order(self.db, order, camera, source, utcnow())

    def cancel_order(self, order_id: str) -> bool:
        with self._lock, transaction(self.db):
            return order_book.cancel_order(self.db, order_id, utcnow())

    def pending_orders(self, camera: str | None = None) -> list[Order]:
        with self._lock:
            return [o for o, _ in order_book.pending(self.db, camera)]

    def pending_orders_routed(self) -> list[tuple[Order, str | None]]:
        """Every pending order with the camera it was routed to (None: any station), oldest first."""
        with self._lock:
            return order_book.pending(self.db)

    def close_order(self, order_id: str, reason: str, status: str = "cancelled") -> bool:
        """A pending order left the box without a verdict naming it: given up on (expired, set aside:
        ``cancelled``) or served by an earlier tray under another id (``served``). Closed with its
        reason, kept for the dashboard; a later POST of the same id does not reopen it."""
        if status not in ("cancelled", "served"):
            raise ValueError(f"close_order: status {status!r}")
        with self._lock, transaction(self.db):
            return order_book.close_order(self.db, order_id, status, reason, utcnow())

    def order(self, order_id: str) -> Order | None:
        with self._lock:
            return order_book.order(self.db, order_id)

    # -- verdicts --------------------------------------------------------------
    def record_verdict(self, record: dict, run: str, snapshot: str | None = None, boxes: dict | None = None) -> bool:
        """Store a verdict record with its tray, alert and outbox rows; False if it was stored before.

        ``boxes`` (``edge.store.snapshots.zone_boxes``) belong to ``snapshot``: they replace the tray's
        boxes only together with a new snapshot."""
        now = utcnow()
        with self._lock, transaction(self.db):
            written = verdict_rows.write(self.db, record, run, snapshot, boxes, now)
            if written is None:
                return False
            payload, alert = written
            base = f"traycheck/{self.site}/{record['camera']}"
            self._enqueue(f"{record['id']}:verdict", f"{base}/verdict", payload, now)
            if alert is not None:
                self._enqueue(f"{record['id']}:alert", f"{base}/alert", dict(payload, alert=alert), now)
            return True

    # -- changes by hand -------------------------------------------------------
    def acknowledge(self, alert_id: int, actor: str, on_behalf_of: str | None = None) -> dict | None:
        """Mark an open alert acknowledged (audit row and MQTT message in the same transaction);
        the alert's new state, or None when it was not open."""
        now = utcnow()
        with self._lock, transaction(self.db):
            changed = staff_actions.acknowledge(self.db, alert_id, actor, on_behalf_of, now)
            if changed is None:
                return None
            camera, payload = changed
            self._enqueue(f"alert:{alert_id}:acknowledged", f"traycheck/{self.site}/{camera}/alert", payload, now)
        alert: dict = payload["alert"]
        return alert

    def flag_tray(self, tray_id: int, actor: str, flagged: bool = True, note: str | None = None) -> dict | None:
        """Mark a tray "counted wrong" (or clear the mark) with an optional note, audited in the same
        transaction; flagged trays are exported first for labelling. The tray's flag state, or None
        when there is no such tray."""
        now = utcnow()
        note = (note or "").strip() or None
        with self._lock, transaction(self.db):
            if not staff_actions.flag_tray(self.db, tray_id, actor, flagged, note, now):
                return None
        return {"id": tray_id, "flagged": flagged, "by": actor if flagged else None, "at": now if flagged else None,
                "note": note if flagged else None}

    def audit(self, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> None:
        with self._lock, transaction(self.db):
            staff_actions.audit(self.db, utcnow(), actor, action, target, detail)

    # -- outbox ----------------------------------------------------------------
    def _enqueue(self, msg_id: str, topic: str, payload: dict, now: str) -> None:
        if self.use_outbox:
            mqtt_outbox.enqueue(self.db, msg_id, topic, payload, now)

    def outbox(self, limit: int = 100) -> list[OutboxMessage]:
        with self._lock:
            return mqtt_outbox.oldest(self.db, limit)

    def outbox_len(self) -> int:
        with self._lock:
            return mqtt_outbox.length(self.db)

    def delivered(self, msg_ids: Iterable[str]) -> None:
        """Remove messages the broker acknowledged."""
        with self._lock, transaction(self.db):
            mqtt_outbox.remove(self.db, msg_ids)

    def open_alerts(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT COUNT(*) FROM alerts WHERE state = 'open'").fetchone()[0])

    # -- retention ---------------------------------------------------------------
    def purge(self, days: float, now: datetime | None = None, session_idle_s: float | None = None) -> list[str]:
        """Delete trays (with verdicts and alerts), finished orders, audit rows and undelivered MQTT
        messages older than ``days``, and expired dashboard sessions (past their end, or unused for
        ``session_idle_s``: such a row can never be used again); return the snapshot files that
        belonged to the deleted rows (each verdict owns the snapshot taken for it, the tray its newest)."""
        with self._lock, transaction(self.db):
            return retention.purge(self.db, days, now or datetime.now(timezone.utc), session_idle_s)
