"""Server-side dashboard sessions: a row per signed-in browser, so that a session can end at once.

The cookie holds a random token; the table holds only its SHA-256, the user, and
when it was created, last used and must end. A session is valid while its row
exists, its user exists and is not disabled, it was used within the idle limit
and its absolute expiry has not passed. The role is read from ``users`` on every
request, so a demotion applies at once (and ``Users.add`` ends the sessions anyway).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("traycheck.sessions")


@dataclass(frozen=True)
class Session:
    """A signed-in user: ``nonce`` is the session's id (the hash of its cookie), ``expires`` unix time."""

    user: str
    role: str
    nonce: str
    expires: float

    @property
    def manager(self) -> bool:
        return self.role == "manager"


TOUCH_S = 60.0  # last_seen is written at most this often per session (not a write per request)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Create, check and end sessions; each web thread uses its own connection to the database file."""

    def __init__(self, path: Path, idle_s: float, max_s: float):
        self.path, self.idle_s, self.max_s = Path(path), idle_s, max_s
        self._local = threading.local()
        self._tidy_failing = False  # a tidying write failed (full disk): logged once until one works again

    @property
    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA busy_timeout=30000")
            self._local.conn = c
        return c

    def create(self, user: str) -> str:
        """A new session for ``user``; returns the cookie value (shown to nobody else, stored hashed)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        self.conn.execute("INSERT INTO sessions (id, user, created, last_seen, expires) VALUES (?,?,?,?,?)",
                          [session_id(token), user, now, now, now + self.max_s])
        return token

    def load(self, token: str | None) -> Session | None:
        """The live session this cookie proves, or None (unknown, ended, idle too long, expired, user disabled)."""
        if not token or len(token) > 128:
            return None
        sid, now = session_id(token), time.time()
        row = self.conn.execute(
            "SELECT s.user, u.role, s.last_seen, s.expires FROM sessions s JOIN users u ON u.name = s.user "
            "WHERE s.id = ? AND u.disabled_at IS NULL", [sid]).fetchone()
        if row is None:
            return None
        user, role, last_seen, expires = row
        if now >= expires or now - last_seen > self.idle_s:
            self._tidy("DELETE FROM sessions WHERE id = ?", sid)
            return None
        if now - last_seen > TOUCH_S:
            self._tidy("UPDATE sessions SET last_seen = ? WHERE id = ?", now, sid)
        return Session(user, role, sid, min(expires, now + self.idle_s))

    def _tidy(self, sql: str, *args: object) -> None:
        """A write that only keeps the table tidy (an ended session's row, the last-use time): on a full or
        read-only disk it is skipped, so staff can still read the pages (an ended row is judged again next
        time; a use that cannot be recorded only lets the idle limit count from the last one that was).
        Logged once per streak of failures, not once per request."""
        try:
            self.conn.execute(sql, list(args))
        except sqlite3.OperationalError as exc:
            if not self._tidy_failing:
                log.warning("sessions: the last-use time is not recorded while storage fails (%s)", exc)
            self._tidy_failing = True
            return
        if self._tidy_failing:
            self._tidy_failing = False
            log.info("sessions: the last-use time is recorded again")

    def end(self, sid: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE id = ?", [sid])

    def end_all(self, user: str) -> int:
        """Sign ``user`` out everywhere; the number of sessions ended."""
        return self.conn.execute("DELETE FROM sessions WHERE user = ?", [user]).rowcount

    def of(self, user: str) -> list[dict]:
        """The user's open sessions, newest first (for the system page)."""
        now = time.time()
        rows = self.conn.execute("SELECT id, created, last_seen, expires FROM sessions WHERE user = ? AND expires > ? "
                                 "AND last_seen > ? ORDER BY created DESC LIMIT 50",
                                 [user, now, now - self.idle_s]).fetchall()
        return [{"id": r[0], "created": _utc(r[1]), "last_seen": _utc(r[2]),
                 "expires": _utc(min(r[3], r[2] + self.idle_s))} for r in rows]


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
