"""The schema version in ``PRAGMA user_version``, and databases of the TrayCheck before it: their
``schema_version`` table is moved into user_version and dropped in the migration's own transaction,
every row kept. Real SQLite files, built here with the old layout (not with today's migrate). doctor's
view of such a database is tested in tests/test_database_start.py (it runs the command)."""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from edge.errors import UnusableDatabase
from edge.store.db import MIGRATIONS, migrate, open_db, schema_version
from edge.store.store import Store
from edge.store.users import Users

pytestmark = pytest.mark.quick

LATEST = len(MIGRATIONS)
# columns of schema 1 (and 2 for users): the rows an upgrade must keep, whatever it adds
KEPT = {"orders": "id, camera, status, received_at, updated_at, source", "order_lines": "order_id, line_no, sku, qty",
        "trays": "id, camera, run, seq, order_id, verdict, seen, snapshot", "verdicts": "id, tray_id, verdict, record",
        "alerts": "id, tray_id, state, detail", "outbox": "seq, msg_id, payload", "audit": "id, actor, action, target"}


def old_layout(path: Path, version: int) -> None:
    """A database as the TrayCheck before user_version left it at ``version``: the first ``version``
    migrations applied and the number in a one-row ``schema_version`` table; a day's rows in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for script in MIGRATIONS[:version]:
        for statement in filter(str.strip, script.split(";")):
            conn.execute(statement)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version (version) VALUES (?)", [version])
    conn.executescript("""
        INSERT INTO orders (id, camera, status, received_at, updated_at) VALUES ('1042', 'expo-1', 'served', 't0', 't1');
        INSERT INTO orders (id, camera, received_at, updated_at) VALUES ('1043', NULL, 't2', 't2');
        INSERT INTO order_lines VALUES ('1042', 0, 'BURGER', 1), ('1043', 0, 'WRAP', 2);
        INSERT INTO trays (id, camera, run, seq, order_id, verdict, seen, snapshot, created_at, updated_at)
            VALUES (7, 'expo-1', 'r', 1, '1042', 'mismatch', '{"burger": 1}', '2026-11-24/v1.jpg', 't0', 't1');
        INSERT INTO verdicts VALUES ('v1', 7, 'expo-1', '1042', 'mismatch', 5.0, 't1', 0.9, '{"id": "v1"}');
        INSERT INTO alerts (id, tray_id, camera, order_id, state, opened_at, detail)
            VALUES (3, 7, 'expo-1', '1042', 'open', 't1', '{"missing": {"sauce": 1}}');
        INSERT INTO outbox (msg_id, topic, payload, created_at) VALUES ('v1:verdict', 'traycheck/s/expo-1', '{}', 't1');
        INSERT INTO audit (at, actor, action, target) VALUES ('t1', 'max', 'acknowledge', 'alert:2');
    """)
    if version >= 2:
        Users(conn).add("max", "manager", "manager-pw")
    conn.close()


def rows(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT {cols} FROM {t} ORDER BY 1, 2").fetchall() for t, cols in KEPT.items()}
    finally:
        conn.close()


def layout(path: Path) -> tuple[int, list[str]]:
    """user_version and the names of the tables, read without migrating."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return conn.execute("PRAGMA user_version").fetchone()[0], tables
    finally:
        conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("version", [LATEST, 2])
def test_an_old_database_opens_keeps_its_rows_and_moves_its_version_to_user_version(tmp_path, version):
    path = tmp_path / "traycheck.db"
    old_layout(path, version)
    before = rows(path)
    assert before["orders"] and before["verdicts"] and layout(path)[0] == 0 and "schema_version" in layout(path)[1]
    store = Store(path, outbox=False)  # what the service does at start
    try:
        assert store.order("1043") is not None and [o.id for o in store.pending_orders()] == ["1043"]
        assert Users(store.db).check("max", "manager-pw") == "manager"
        assert store.open_alerts() == 1
    finally:
        store.close()
    assert rows(path) == before
    user_version, tables = layout(path)
    assert user_version == LATEST and "schema_version" not in tables
    assert {"sessions", "signin_failures", "users"} <= set(tables)
    again = open_db(path)  # a second start changes nothing
    assert schema_version(again) == LATEST
    again.close()
    assert rows(path) == before


def test_the_move_to_user_version_rolls_back_with_a_failing_migration(tmp_path):
    """The old table's number, user_version and the migration step are one transaction: when the step
    fails, the database is as it was (its version still in the old table), ready for the next try."""
    path = tmp_path / "traycheck.db"
    old_layout(path, 2)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ALTER TABLE trays ADD COLUMN boxes TEXT")  # migration 3 adds it: "duplicate column name"
    with pytest.raises(sqlite3.OperationalError, match="duplicate column name: boxes"):
        migrate(conn)
    conn.close()
    user_version, tables = layout(path)
    assert user_version == 0 and "schema_version" in tables
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    conn.close()


def test_a_stray_old_table_beside_user_version_does_not_rewind_the_schema(tmp_path):
    """An older TrayCheck started on an upgraded database writes ``schema_version`` = 0 before it fails on
    its first migration; the next start of this one keeps user_version and drops the stray table."""
    path = tmp_path / "traycheck.db"
    Store(path, outbox=False).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (0);"
                       "INSERT INTO audit (at, actor, action) VALUES ('t', 'me', 'kept');")
    conn.close()
    db = open_db(path)
    assert db.execute("SELECT action FROM audit").fetchall() == [("kept",)]
    db.close()
    assert layout(path)[0] == LATEST and "schema_version" not in layout(path)[1]


@pytest.mark.parametrize("old", [False, True], ids=["user_version", "old table"])
def test_a_database_from_a_newer_traycheck_is_refused_and_left_as_it_was(tmp_path, old):
    path = tmp_path / "traycheck.db"
    if old:
        old_layout(path, LATEST)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("UPDATE schema_version SET version = ?", [LATEST + 1])
    else:
        conn = open_db(path)
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    before = digest(path)
    with pytest.raises(UnusableDatabase) as refused:
        Store(path)
    assert str(refused.value).startswith(f"database {path}: schema {LATEST + 1} was written by a newer TrayCheck "
                                         f"(this one knows {LATEST}); nothing was changed.")
    assert "\n" not in str(refused.value)
    assert digest(path) == before
