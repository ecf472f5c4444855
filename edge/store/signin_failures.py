"""Failed dashboard sign-ins on disk (table ``signin_failures``, schema 6): the login limit's memory
(``edge.web.login_limits``) is written through to here and read back at start, so a restart does not
give a guesser a fresh allowance.

Only the last minutes matter: rows older than the limiter's window are deleted as new ones come, and
the table never holds more than ``MAX_ROWS`` (a flood from many addresses cannot grow it without end).
Every method may raise ``sqlite3.Error`` (a full or read-only disk): the caller keeps going from memory.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

MAX_ROWS = 100_000  # ~6 MB at most; far above what the per-address limits let in within one window


class SigninFailures:
    """The ``signin_failures`` table through one connection of its own (a lock serialises its users)."""

    def __init__(self, path: Path):
        """``path``: the migrated database file (``Store.path``); nothing is opened before the first use."""
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        """The connection, opened on first use (autocommit: every statement is its own transaction)."""
        if self._conn is None:
            self._conn = sqlite3.connect(str(self.path), timeout=5, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=5000")
        return self._conn

    def recent(self, since: float) -> list[tuple[str, str, float]]:
        """(account, client, at) of every failure after ``since`` (unix seconds), oldest first."""
        with self._lock:
            return [(r[0], r[1], float(r[2])) for r in self._db().execute(
                "SELECT account, client, at FROM signin_failures WHERE at > ? ORDER BY at, id", [since])]

    def add(self, account: str, client: str, at: float, forget_before: float) -> None:
        """Record one failure and forget those before ``forget_before`` (and any beyond ``MAX_ROWS``)."""
        with self._lock:
            db = self._db()
            cur = db.execute("INSERT INTO signin_failures (account, client, at) VALUES (?,?,?)", [account, client, at])
            db.execute("DELETE FROM signin_failures WHERE at < ? OR id <= ?",
                       [forget_before, (cur.lastrowid or 0) - MAX_ROWS])

    def forgive(self, account: str, client: str) -> None:
        """A right password: this account's failures from this client are forgotten."""
        with self._lock:
            self._db().execute("DELETE FROM signin_failures WHERE client = ? AND account = ?", [client, account])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
