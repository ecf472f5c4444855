"""Read-only queries behind the dashboard pages.

Each web thread reads through its own connection (WAL: readers never wait for
the pipeline's writes, and never block them). Every query is bounded (LIMIT,
time range) and served by an index, so pages stay fast on a month of a busy
restaurant (~60 000 trays).
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from edge.pipeline.verdicts import VerdictKind

PAGE = 50
# The next camera after c through the (camera, created_at) index, until there is none.
CAMERAS_SQL = ("WITH RECURSIVE cams(camera) AS (SELECT MIN(camera) FROM trays UNION ALL "
               "SELECT (SELECT MIN(camera) FROM trays WHERE camera > cams.camera) FROM cams "
               "WHERE cams.camera IS NOT NULL) SELECT camera FROM cams WHERE camera IS NOT NULL")


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decoded(tray: dict) -> dict:
    """A trays row with its JSON columns (per-class counts) as dicts."""
    tray["seen"], tray["expected"] = json.loads(tray["seen"]), json.loads(tray["expected"])
    return tray


class Reader:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()

    @property
    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA query_only=ON")
            self._local.conn = c
        return c

    def rows(self, sql: str, args: list | tuple = ()) -> list[dict]:
        return [dict(r) for r in self.conn.execute(sql, args).fetchall()]

    # -- alerts -------------------------------------------------------------------------
    def alerts(self, state: str = "open", camera: str | None = None, since: str | None = None,
               until: str | None = None, limit: int = PAGE, offset: int = 0) -> list[dict]:
        where, args = ["1=1"], []
        if state != "all":
            where.append("a.state = ?")
            args.append(state)
        if camera:
            where.append("a.camera = ?")
            args.append(camera)
        if since:
            where.append("a.opened_at >= ?")
            args.append(since)
        if until:
            where.append("a.opened_at < ?")
            args.append(until)
        rows = self.rows(f"SELECT a.*, t.snapshot, t.id AS tray_id FROM alerts a JOIN trays t ON t.id = a.tray_id "
                         f"WHERE {' AND '.join(where)} ORDER BY a.opened_at DESC, a.id DESC LIMIT ? OFFSET ?",
                         [*args, limit, offset])
        for r in rows:
            r["detail"] = json.loads(r["detail"] or "{}")
        return rows

    def alert(self, alert_id: int) -> dict | None:
        rows = self.rows("SELECT * FROM alerts WHERE id = ?", [alert_id])
        return rows[0] if rows else None

    # -- orders and trays ---------------------------------------------------------------
    def pending_orders(self, limit: int = PAGE, offset: int = 0, newest: bool = True) -> list[dict]:
        """Pending orders a page at a time, newest first unless ``newest=False`` (the queue's order)."""
        way = "DESC" if newest else "ASC"
        orders = self.rows(f"SELECT * FROM orders WHERE status = 'pending' ORDER BY received_at {way}, id {way} "
                           "LIMIT ? OFFSET ?", [limit, offset])
        for o in orders:
            o["lines"] = self.rows("SELECT sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no", [o["id"]])
        return orders

    def closed_orders(self, limit: int = 20) -> list[dict]:
        """Orders the box gave up on (expired, set aside), newest first."""
        orders = self.rows("SELECT * FROM orders WHERE status = 'cancelled' AND closed_reason IS NOT NULL "
                           "ORDER BY updated_at DESC LIMIT ?",
                           [limit])
        for o in orders:
            o["lines"] = self.rows("SELECT sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no", [o["id"]])
        return orders

    def trays(self, order_id: str | None = None, camera: str | None = None, limit: int = PAGE,
              offset: int = 0) -> list[dict]:
        page = " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        if order_id:
            rows = self.rows("SELECT * FROM trays WHERE order_id = ?" + page, [order_id, limit, offset])
        elif camera:
            rows = self.rows("SELECT * FROM trays WHERE camera = ?" + page, [camera, limit, offset])
        else:
            rows = self.rows("SELECT * FROM trays" + page, [limit, offset])
        return [_decoded(r) for r in rows]

    def tray(self, tray_id: int) -> dict | None:
        rows = self.rows("SELECT * FROM trays WHERE id = ?", [tray_id])
        if not rows:
            return None
        t = _decoded(rows[0])
        t["verdicts"] = [dict(json.loads(v["record"]), stored_at=v["at"]) for v in self.rows(
            "SELECT record, at FROM verdicts WHERE tray_id = ? ORDER BY video_t, at", [tray_id])]
        t["alerts"] = self.rows("SELECT * FROM alerts WHERE tray_id = ? ORDER BY opened_at", [tray_id])
        return t

    def cameras(self) -> list[str]:
        """Every camera that has a tray, in order. A loose index scan: one seek of trays_camera_created per
        camera, so the list on every page costs the same on a month of trays as on a day (DISTINCT would
        walk every tray's index entry)."""
        return [r["camera"] for r in self.rows(CAMERAS_SQL)]

    # -- shift report ---------------------------------------------------------------------
    def report(self, since: datetime, until: datetime) -> dict:
        """Trays checked, mismatches, most-missed items, per hour and per camera, over [since, until)."""
        rows = self.rows("SELECT t.camera, t.created_at, t.verdict, "
                         "(SELECT v.record FROM verdicts v WHERE v.tray_id = t.id ORDER BY v.video_t LIMIT 1) "
                         "AS first FROM trays t WHERE t.created_at >= ? AND t.created_at < ?",
                         [iso(since), iso(until)])
        hours: dict[str, Counter] = {}
        cams: dict[str, Counter] = {}
        missed: Counter = Counter()
        total: Counter[str] = Counter()
        for r in rows:
            first = json.loads(r["first"]) if r["first"] else {}
            kind = first.get("verdict", r["verdict"])
            hour = r["created_at"][:13] + ":00"
            for c in (hours.setdefault(hour, Counter()), cams.setdefault(r["camera"], Counter()), total):
                c["trays"] += 1
                c[kind] += 1
            for item, n in first.get("missing", {}).items():
                missed[item] += n
        ok, mis, none = VerdictKind.OK, VerdictKind.MISMATCH, VerdictKind.NO_ORDER  # stored as their strings
        per_hour = [{"hour": h, "trays": c["trays"], "mismatch": c[mis], "ok": c[ok],
                     "no_order": c[none]} for h, c in sorted(hours.items())]
        per_camera = [{"camera": k, "trays": c["trays"], "mismatch": c[mis],
                       "mismatch_rate": round(100 * c[mis] / c["trays"], 1) if c["trays"] else 0.0}
                      for k, c in sorted(cams.items())]
        return {"since": iso(since), "until": iso(until), "trays": total["trays"], "mismatch": total[mis],
                "mismatch_rate": round(100 * total[mis] / total["trays"], 1) if total["trays"] else 0.0,
                "per_hour": per_hour, "per_camera": per_camera, "most_missed": missed.most_common(10)}


FIRST_YEAR, LAST_YEAR = 2000, 2099  # dates outside are typing errors (and 9999-12-31 + 1 day overflows)


def day_range(day: str | None) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day given as YYYY-MM-DD (default: the last 24 hours); ValueError outside the years
    this box can have data for."""
    if not day:
        end = datetime.now(timezone.utc)
        return end - timedelta(hours=24), end
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    if not FIRST_YEAR <= start.year <= LAST_YEAR:
        raise ValueError(day)
    return start, start + timedelta(days=1)


def bounded_time(value: str, name: str) -> str | None:
    """A filter time (``2026-11-25T11:00``, ``2026-11-25``; UTC unless it says otherwise) in the stored ISO form,
    None when empty; ValueError naming the parameter for anything else."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a time like 2026-11-25T11:00 (UTC)") from None
    if not FIRST_YEAR <= dt.year <= LAST_YEAR:
        raise ValueError(f"{name}={value!r}: expected a year between {FIRST_YEAR} and {LAST_YEAR}")
    return iso(dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc))
