"""What people change by hand (an alert acknowledged, a tray flagged "counted wrong", settings),
each with its audit row in the same transaction: no change without its record of who made it.
Run inside the ``Store``'s transaction."""
from __future__ import annotations

import json
import sqlite3


def audit(conn: sqlite3.Connection, now: str, actor: str, action: str, target: str | None = None,
          detail: dict | None = None) -> None:
    conn.execute("INSERT INTO audit (at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                 [now, actor, action, target, json.dumps(detail or {})])


def acknowledge(conn: sqlite3.Connection, alert_id: int, actor: str, on_behalf_of: str | None,
                now: str) -> tuple[str, dict] | None:
    """An open alert acknowledged; its camera and the MQTT payload of the change (``alert``: the new
    state), or None when it was not open."""
    who = on_behalf_of or actor
    row = conn.execute("SELECT a.tray_id, a.camera, a.order_id, a.detail FROM alerts a "
                       "WHERE a.id = ? AND a.state = 'open'", [alert_id]).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE alerts SET state = 'acknowledged', closed_at = ?, closed_by = ? WHERE id = ?",
                 [now, who, alert_id])
    audit(conn, now, actor, "acknowledge", f"alert:{alert_id}", {"on_behalf_of": on_behalf_of} if on_behalf_of else {})
    alert = {"id": alert_id, "state": "acknowledged", "by": who, "at": now}
    return row[1], {"schema": "traycheck.alert/1", "camera": row[1], "order_id": row[2],
                    "verdict": "acknowledged", **json.loads(row[3]), "alert": alert}


def flag_tray(conn: sqlite3.Connection, tray_id: int, actor: str, flagged: bool, note: str | None, now: str) -> bool:
    """Set or clear a tray's "counted wrong" mark; False when there is no such tray."""
    if conn.execute("SELECT 1 FROM trays WHERE id = ?", [tray_id]).fetchone() is None:
        return False
    if flagged:
        conn.execute("UPDATE trays SET flagged_at = ?, flagged_by = ?, flag_note = ? WHERE id = ?",
                     [now, actor, note, tray_id])
    else:
        conn.execute("UPDATE trays SET flagged_at = NULL, flagged_by = NULL, flag_note = NULL WHERE id = ?",
                     [tray_id])
    audit(conn, now, actor, "flag counted wrong" if flagged else "unflag", f"tray:{tray_id}",
          {"note": note} if note else {})
    return True
