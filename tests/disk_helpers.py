"""A real full disk: a small tmpfs mounted for a test, and a filler that takes its last byte."""
from __future__ import annotations

import sqlite3
import time

import subprocess
from pathlib import Path

import pytest


def _mount(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needed for a real full disk): {r.stderr.strip() or r.returncode}")


def small_fs_at(tmp_path: Path):
    """A 16 MiB tmpfs mounted for the test (always unmounted after it)."""
    mnt = tmp_path / "small"
    _mount(mnt, "16m")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(fs: Path) -> Path:
    """Write a filler file until the file system refuses (ENOSPC): the disk is full."""
    filler = fs / "filler"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        try:  # the last bytes
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def wait_until(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def stored_ids(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM verdicts ORDER BY rowid")]
    finally:
        conn.close()
