"""Retention: rows older than ``retention.days`` are deleted, and the snapshot files they owned are
handed back for deletion, so that no file outlives its rows. Run inside the ``Store``'s transaction."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from edge.store.timestamps import stamp

_SNAPSHOTS = (  # each verdict owns the snapshot taken for it, the tray its newest
    "SELECT snapshot FROM trays WHERE created_at < ? AND snapshot IS NOT NULL UNION "
    "SELECT json_extract(v.record, '$.snapshot') FROM verdicts v JOIN trays t ON t.id = v.tray_id "
    "WHERE t.created_at < ? AND json_extract(v.record, '$.snapshot') IS NOT NULL")


def purge(conn: sqlite3.Connection, days: float, moment: datetime, session_idle_s: float | None) -> list[str]:
    """Delete trays (with verdicts and alerts), finished orders, audit rows and undelivered MQTT messages
    older than ``days`` before ``moment``, and sessions past their end or unused for ``session_idle_s``;
    the snapshot files of the deleted rows."""
    cutoff = stamp(moment - timedelta(days=days))
    snaps = [r[0] for r in conn.execute(_SNAPSHOTS, [cutoff, cutoff]).fetchall()]
    conn.execute("DELETE FROM trays WHERE created_at < ?", [cutoff])
    conn.execute("DELETE FROM outbox WHERE created_at < ?", [cutoff])  # its verdicts are gone too
    idle_cut = moment.timestamp() - session_idle_s if session_idle_s is not None else 0.0
    conn.execute("DELETE FROM sessions WHERE expires < ? OR last_seen < ?", [moment.timestamp(), idle_cut])
    conn.execute("DELETE FROM orders WHERE updated_at < ? AND status != 'pending'", [cutoff])
    conn.execute("DELETE FROM audit WHERE at < ?", [cutoff])
    return snaps
