"""Open the database and bring its schema up to date.

The schema is versioned: ``schema_version`` holds the number of the last
migration applied, and each migration runs in its own transaction, so an old
database is upgraded in place and never dropped. WAL mode lets the dashboard
read while the pipeline writes; ``synchronous=FULL`` so that a verdict the
service reported is on disk even if the box loses power a moment later.
"""
from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from edge.errors import StorageUnavailable, UnusableDatabase

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE orders (
        id TEXT PRIMARY KEY,
        camera TEXT,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'served', 'cancelled')),
        received_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'api'
    );
    CREATE TABLE order_lines (
        order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
        line_no INTEGER NOT NULL,
        sku TEXT NOT NULL,
        qty INTEGER NOT NULL CHECK (qty > 0),
        PRIMARY KEY (order_id, line_no)
    );
    CREATE TABLE trays (
        id INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        run TEXT NOT NULL,
        seq INTEGER NOT NULL,
        order_id TEXT,
        rest_t REAL,
        verdict TEXT,
        seen TEXT NOT NULL DEFAULT '{}',
        expected TEXT NOT NULL DEFAULT '{}',
        snapshot TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (camera, run, seq)
    );
    CREATE INDEX trays_order ON trays(order_id);
    CREATE INDEX trays_created ON trays(created_at);
    CREATE TABLE verdicts (
        id TEXT PRIMARY KEY,
        tray_id INTEGER NOT NULL REFERENCES trays(id) ON DELETE CASCADE,
        camera TEXT NOT NULL,
        order_id TEXT,
        verdict TEXT NOT NULL,
        video_t REAL NOT NULL,
        at TEXT NOT NULL,
        confidence REAL,
        record TEXT NOT NULL
    );
    CREATE INDEX verdicts_tray ON verdicts(tray_id);
    CREATE INDEX verdicts_at ON verdicts(at);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        tray_id INTEGER NOT NULL REFERENCES trays(id) ON DELETE CASCADE,
        camera TEXT NOT NULL,
        order_id TEXT,
        state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        closed_by TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX alerts_state ON alerts(state, opened_at);
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        msg_id TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        qos INTEGER NOT NULL DEFAULT 1,
        retain INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: dashboard users (slow salted password hashes) and the indexes its pages query by
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'manager')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX trays_camera_created ON trays(camera, created_at);
    CREATE INDEX alerts_opened ON alerts(opened_at);
    CREATE INDEX alerts_tray ON alerts(tray_id);
    CREATE INDEX orders_status ON orders(status, received_at)
    """,
    # 3: learning from the live box: the detector's boxes of each tray's snapshot (JSON, crop pixels, with the
    # class names of the model that drew them) and the manager's "counted wrong" flag
    """
    ALTER TABLE trays ADD COLUMN boxes TEXT;
    ALTER TABLE trays ADD COLUMN flagged_at TEXT;
    ALTER TABLE trays ADD COLUMN flagged_by TEXT;
    ALTER TABLE trays ADD COLUMN flag_note TEXT
    """,
    # 4: orders the box gave up on (expired unserved, set aside by a new menu) are 'cancelled' with the reason
    """
    ALTER TABLE orders ADD COLUMN closed_reason TEXT
    """,
    # 5: server-side dashboard sessions (revocable: logout, password or role change, a disabled user);
    # ``id`` is the SHA-256 of the cookie, so the database alone cannot sign anyone in. Times are unix seconds.
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        created REAL NOT NULL,
        last_seen REAL NOT NULL,
        expires REAL NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user);
    ALTER TABLE users ADD COLUMN disabled_at TEXT
    """,
    # 6: failed dashboard sign-ins of the last minutes (``edge.web.login_limits``), so that a restart does not
    # reset the login limit; ``account`` is the name tried (case-folded), ``client`` the address, ``at`` unix seconds
    """
    CREATE TABLE signin_failures (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        client TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX signin_failures_client ON signin_failures(client, account);
    CREATE INDEX signin_failures_at ON signin_failures(at)
    """,
]


def schema_version(db: sqlite_utils.Database) -> int:
    if "schema_version" not in db.table_names():
        return 0
    row = db.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


@contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[None]:
    """One write transaction taken at its start (``BEGIN IMMEDIATE``): two processes opening the same
    database cannot both read a version and then both apply the same migration."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this database has not seen, each in its own immediate transaction that
    reads the version it starts from; return the version it is at now."""
    with immediate(db):
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        if db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
            db.execute("INSERT INTO schema_version (version) VALUES (0)")
    while True:
        with immediate(db):
            current = schema_version(db)
            if current >= len(MIGRATIONS):
                return current
            for statement in filter(str.strip, MIGRATIONS[current].split(";")):
                db.execute(statement)
            db.execute("UPDATE schema_version SET version = ?", [current + 1])


def _unusable(path: Path, why: str) -> UnusableDatabase:
    return UnusableDatabase(f"database {path}: {why}; nothing was changed. Run 'traycheck doctor --config CONFIG' "
                            f"for details, then restore a backup or move the file aside to start with an empty one")


def open_db(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database file, in WAL mode, migrated to the current schema."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    db = sqlite_utils.Database(conn)
    try:
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        version = schema_version(db)
        if version > len(MIGRATIONS):
            raise _unusable(path, f"schema {version} was written by a newer TrayCheck (this one knows "
                                  f"{len(MIGRATIONS)})")
        migrate(db)
    except Exception as exc:
        conn.close()
        # not a database, malformed pages; an OperationalError (locked, full, read-only) is the disk's problem
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            raise _unusable(path, f"corrupt ({exc})") from None
        if isinstance(exc, sqlite3.OperationalError):
            raise _unwritable(path, exc) from None
        raise
    return db


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
