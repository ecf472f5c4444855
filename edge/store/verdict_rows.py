"""The rows one verdict writes: its tray (new or updated), the verdict itself, the orders it
serves or gives back, and the tray's alert. Run inside the ``Store``'s transaction, which also
queues the verdict's MQTT messages: all of it lands together or not at all.

Verdict ids are stable (see ``edge.pipeline.verdicts``): a verdict stored before is not written again.
"""
from __future__ import annotations

import json
import sqlite3

TrayKey = tuple[str, str, int]  # camera, run, tray sequence number

_UPSERT_TRAY = (
    "INSERT INTO trays (camera, run, seq, order_id, rest_t, verdict, seen, expected, snapshot, boxes, "
    "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (camera, run, seq) DO UPDATE SET order_id = excluded.order_id, "
    "verdict = excluded.verdict, seen = excluded.seen, expected = excluded.expected, "
    "boxes = CASE WHEN excluded.snapshot IS NULL THEN trays.boxes ELSE excluded.boxes END, "
    "snapshot = COALESCE(excluded.snapshot, trays.snapshot), updated_at = excluded.updated_at")


def write(conn: sqlite3.Connection, record: dict, run: str, snapshot: str | None, boxes: dict | None,
          now: str) -> tuple[dict, dict | None] | None:
    """Every row of one verdict; the message payload and the alert change (None: none), or None when
    the verdict was stored before and nothing was written."""
    if conn.execute("SELECT 1 FROM verdicts WHERE id = ?", [record["id"]]).fetchone():
        return None
    key: TrayKey = (record["camera"], run, record.get("tray", 0))
    before = _tray_order(conn, key)
    tray_id = _upsert_tray(conn, key, record, snapshot, boxes, now)
    payload = dict(record, snapshot=snapshot) if snapshot else record
    conn.execute("INSERT INTO verdicts (id, tray_id, camera, order_id, verdict, video_t, at, confidence, record) "
                 "VALUES (?,?,?,?,?,?,?,?,?)",
                 [record["id"], tray_id, key[0], record.get("order_id"), record["verdict"], record["video_t"],
                  record["at"], record.get("confidence"), json.dumps(payload)])
    _move_orders(conn, record.get("order_id"), before, now)
    return payload, _alert_change(conn, tray_id, record, now)


def _tray_order(conn: sqlite3.Connection, key: TrayKey) -> str | None:
    """The order the tray was checked against so far (None: a new tray, or none)."""
    row = conn.execute("SELECT order_id FROM trays WHERE camera = ? AND run = ? AND seq = ?", list(key)).fetchone()
    return row[0] if row else None


def _upsert_tray(conn: sqlite3.Connection, key: TrayKey, record: dict, snapshot: str | None, boxes: dict | None,
                 now: str) -> int:
    """The tray's row with the verdict's latest view; its id. ``boxes`` belong to ``snapshot``: the
    tray's boxes are replaced only together with a new snapshot."""
    conn.execute(_UPSERT_TRAY, [*key, record.get("order_id"), record.get("rest_t"), record["verdict"],
                                json.dumps(record.get("seen", {})), json.dumps(record.get("expected", {})), snapshot,
                                json.dumps(boxes) if snapshot and boxes is not None else None, now, now])
    row = conn.execute("SELECT id FROM trays WHERE camera = ? AND run = ? AND seq = ?", list(key)).fetchone()
    return int(row[0])


def _move_orders(conn: sqlite3.Connection, order_id: str | None, before: str | None, now: str) -> None:
    """The verdict's order is served; an order the tray was checked against before is given back."""
    if order_id:
        conn.execute("UPDATE orders SET status = 'served', updated_at = ? WHERE id = ? AND status = 'pending'",
                     [now, order_id])
    if before and before != order_id:
        # the pipeline revised a ticketless tray's guess: the order it gave back waits for its own tray again,
        # and must still be pending after a restart
        conn.execute("UPDATE orders SET status = 'pending', updated_at = ? WHERE id = ? AND status = 'served'",
                     [now, before])


def _alert_change(conn: sqlite3.Connection, tray_id: int, record: dict, now: str) -> dict | None:
    """Open an alert on a mismatch, resolve it when the tray is fixed; the alert payload part."""
    kind = record["verdict"]
    open_row = conn.execute("SELECT id FROM alerts WHERE tray_id = ? AND state = 'open'", [tray_id]).fetchone()
    detail = json.dumps({"missing": record.get("missing", {}), "extra": record.get("extra", {})})
    if kind == "mismatch":
        if open_row:
            conn.execute("UPDATE alerts SET detail = ? WHERE id = ?", [detail, open_row[0]])
            return {"id": open_row[0], "state": "open"}
        cur = conn.execute("INSERT INTO alerts (tray_id, camera, order_id, state, opened_at, detail) "
                           "VALUES (?,?,?,?,?,?)",
                           [tray_id, record["camera"], record.get("order_id"), "open", now, detail])
        return {"id": cur.lastrowid, "state": "open"}
    if kind == "resolved" and open_row:
        conn.execute("UPDATE alerts SET state = 'resolved', closed_at = ?, closed_by = 'tray fixed' "
                     "WHERE id = ?", [now, open_row[0]])
        return {"id": open_row[0], "state": "resolved"}
    return None
