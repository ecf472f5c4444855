"""Open the database and bring its schema up to date.

The schema version is SQLite's own ``PRAGMA user_version`` (in the file's header): the
number of the last migration applied. Each migration runs in its own transaction, so an
old database is upgraded in place and never dropped. Databases written before that keep
the number in a one-row ``schema_version`` table: the first migration step moves it into
``user_version`` and drops the table, in one transaction. WAL mode lets the dashboard
read while the pipeline writes; ``synchronous=FULL`` so that a verdict the service
reported is on disk even if the box loses power a moment later.
"""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from edge.errors import StorageUnavailable, UnusableDatabase
from edge.store.schema import MIGRATIONS
from edge.store.transaction import transaction

__all__ = ["LEGACY_TABLE", "MIGRATIONS", "migrate", "open_db", "schema_version"]

LEGACY_TABLE = "schema_version"  # where TrayCheck kept the version before user_version


def _legacy_version(conn: sqlite3.Connection) -> int | None:
    """The number in an older TrayCheck's ``schema_version`` table; None when there is no such table."""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [LEGACY_TABLE])
    if found.fetchone() is None:
        return None
    row = conn.execute(f"SELECT version FROM {LEGACY_TABLE}").fetchone()
    return int(row[0]) if row else 0


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version, only read (doctor and export never write). The larger of the two places: a
    database an older TrayCheck was started on after an upgrade carries a stray ``schema_version`` of 0."""
    return max(_legacy_version(conn) or 0, _user_version(conn))


def _adopt_legacy_version(conn: sqlite3.Connection) -> int:
    """The schema version, inside a migration's transaction: an older TrayCheck's table, where there is
    one, is moved into ``user_version`` and dropped, so that both commit or roll back with the step."""
    legacy = _legacy_version(conn)
    version = max(legacy or 0, _user_version(conn))
    if legacy is not None:
        conn.execute(f"PRAGMA user_version = {version:d}")
        conn.execute(f"DROP TABLE {LEGACY_TABLE}")
    return version


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this database has not seen, each in its own immediate transaction that
    reads the version it starts from (two processes starting at once never apply one migration twice);
    return the version it is at now."""
    while True:
        with transaction(conn, immediate=True):
            current = _adopt_legacy_version(conn)
            if current >= len(MIGRATIONS):
                return current
            for statement in filter(str.strip, MIGRATIONS[current].split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1:d}")


def _unusable(path: Path, why: str) -> UnusableDatabase:
    return UnusableDatabase(f"database {path}: {why}; nothing was changed. Run 'traycheck doctor --config CONFIG' "
                            f"for details, then restore a backup or move the file aside to start with an empty one")


def open_db(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database file, in WAL mode, migrated to the current schema; the
    connection is in autocommit mode (``isolation_level=None``): writes that belong together use
    ``edge.store.transaction.transaction``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    try:
        for pragma in ("busy_timeout=30000", "journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        version = schema_version(conn)
        if version > len(MIGRATIONS):
            raise _unusable(path, f"schema {version} was written by a newer TrayCheck (this one knows "
                                  f"{len(MIGRATIONS)})")
        migrate(conn)
    except Exception as exc:
        conn.close()
        # not a database, malformed pages; an OperationalError (locked, full, read-only) is the disk's problem
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            raise _unusable(path, f"corrupt ({exc})") from None
        if isinstance(exc, sqlite3.OperationalError):
            raise _unwritable(path, exc) from None
        raise
    return conn


def _unwritable(path: Path, exc: sqlite3.OperationalError) -> StorageUnavailable:
    """One line for a database that cannot be opened for writing (full disk: SQLite says ``database or
    disk is full``, or just ``disk I/O error`` when the WAL file cannot be made), with the free space,
    so that the operator sees the cause instead of a traceback and a restart loop."""
    try:
        free = f"; {shutil.disk_usage(path.parent).free / 1e6:.1f} MB free on its disk"
    except OSError:
        free = ""
    return StorageUnavailable(f"database {path}: cannot be opened for writing ({exc}{free}); nothing was changed. "
                              "Free space on that disk (or fix it), then start again")
