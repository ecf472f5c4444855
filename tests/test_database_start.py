"""The database at start-up: a corrupt file or one from a newer TrayCheck is refused in one line
with exit 2 (the unit does not restart on 2) and left as it was; migrations read their version
inside their own write transaction; ``doctor`` never writes the database."""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from edge.store.db import MIGRATIONS, migrate, open_db
from edge.store.store import Store
from test_cli import appliance_config
from test_migrations import old_layout


def _random(path: Path) -> None:
    path.write_bytes(os.urandom(40_000))


def _bad_header(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(20_000))


def _malformed(path: Path) -> None:
    """A real database whose schema pages were overwritten (a torn write, a bad sector)."""
    open_db(path).close()
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    data = bytearray(path.read_bytes())
    data[100:4096 * 3] = b"\x5a" * (4096 * 3 - 100)
    path.write_bytes(bytes(data))


def _newer(path: Path) -> None:
    db = open_db(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()


@pytest.mark.parametrize("spoil,words", [
    (_random, "corrupt (file is not a database)"),
    (_bad_header, "corrupt"),
    (_malformed, "corrupt"),
    (_newer, f"schema {len(MIGRATIONS) + 1} was written by a newer TrayCheck"),
])
def test_a_corrupt_or_newer_database_stops_the_start_in_one_line_with_exit_2(tmp_path, cli, spoil, words):
    cfg = appliance_config(tmp_path)
    db = tmp_path / "data" / "traycheck.db"
    db.parent.mkdir()
    spoil(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for args in (("run", "--config", cfg), ("replay", "fixtures/lunch-rush", "--data-dir", tmp_path / "data")):
        r = cli(*args)
        assert r.returncode == 2, r.stderr[-2000:]
        assert "Traceback" not in r.stderr and words in r.stderr and "traycheck doctor" in r.stderr, r.stderr
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # left as it was, for a rescue
    doctor = cli("doctor", "--config", cfg)
    assert doctor.returncode == 1 and "traycheck.db" in doctor.stderr and "FAIL" in doctor.stderr


def test_the_unit_does_not_restart_on_exit_2():
    unit = (Path(__file__).parent.parent / "systemd" / "traycheck.service").read_text()
    assert "RestartPreventExitStatus=2" in unit.split()


def test_a_migration_reads_its_version_inside_its_own_immediate_transaction(tmp_path):
    """Two processes starting at once must not both apply one migration: each step takes the write
    lock first (BEGIN IMMEDIATE), then reads the version, migrates and commits."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    seen: list[str] = []
    conn.set_trace_callback(lambda sql: seen.append(" ".join(sql.split())[:40]))
    assert migrate(conn) == len(MIGRATIONS)
    reads = [i for i, s in enumerate(seen) if s.startswith("PRAGMA user_version")]
    assert len(reads) == 2 * len(MIGRATIONS) + 1  # each step reads it and sets it; the last only reads
    for i in reads:
        opened = max(j for j in range(i) if seen[j].startswith(("BEGIN", "COMMIT", "ROLLBACK")))
        assert seen[opened] == "BEGIN IMMEDIATE", seen[opened - 2: i + 1]


def test_doctor_reads_the_database_and_never_migrates_or_writes_it(tmp_path, cli):
    cfg = appliance_config(tmp_path)
    db_path = tmp_path / "data" / "traycheck.db"
    db_path.parent.mkdir()
    conn = sqlite3.connect(db_path, isolation_level=None)  # an old box's database: schema 3
    saved = MIGRATIONS[3:]
    del MIGRATIONS[3:]
    try:
        migrate(conn)
    finally:
        MIGRATIONS.extend(saved)
    conn.close()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    r = cli("doctor", "--config", cfg)
    assert f"schema 3, upgraded to {len(MIGRATIONS)} at the next start" in r.stderr, r.stderr
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert not Path(f"{db_path}-wal").exists() or Path(f"{db_path}-wal").stat().st_size == 0


def test_doctor_reports_the_schema_of_an_old_layout_database_and_of_the_upgraded_one(tmp_path, cli):
    """A box from before PRAGMA user_version (the version in a ``schema_version`` table): doctor reads it
    there without moving it; after the service's start it reads user_version."""
    cfg = appliance_config(tmp_path)
    path = tmp_path / "data" / "traycheck.db"
    path.parent.mkdir()
    old_layout(path, 3)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    r = cli("doctor", "--config", cfg)
    assert f"(schema 3, upgraded to {len(MIGRATIONS)} at the next start, healthy)" in _table_text(r.stderr), r.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    Store(path, outbox=False).close()  # what the service does at start
    r = cli("doctor", "--config", cfg)
    assert f"traycheck.db (schema {len(MIGRATIONS)}, healthy)" in _table_text(r.stderr), r.stderr


def _table_text(out: str) -> str:
    """doctor's table as one line of words: a long detail wraps onto the next row of the table."""
    return " ".join(out.replace("│", " ").split())


def test_a_replay_data_dir_that_cannot_be_created_is_one_line_and_exit_2(cli, read_only_dir):
    r = cli("replay", "fixtures/lunch-rush", "--data-dir", read_only_dir / "data")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert f"--data-dir {read_only_dir / 'data'}: cannot create it (Read-only file system)" in r.stderr
