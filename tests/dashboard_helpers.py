"""A real database with the dashboard's two users and one stored mismatch, for the access and
security tests; a replay serving the dashboard, for the browser tests."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT
from edge.store.store import Store
from edge.store.users import Users
from mqtt_helpers import free_port

VERDICT = {"schema": "traycheck.verdict/1", "id": "v1", "camera": "expo-1", "order_id": "42", "verdict": "mismatch",
           "missing": {"fries": 1}, "extra": {}, "video_t": 3.0, "at": "2026-11-25T12:00:00.000Z", "tray": 1}


def seeded_store(folder: Path) -> Store:
    """traycheck.db in ``folder``: viewer vera (viewer-pw), manager max (manager-pw), one mismatch."""
    store = Store(Path(folder) / "traycheck.db", outbox=False)
    Users(store.db).add("vera", "viewer", "viewer-pw")
    Users(store.db).add("max", "manager", "manager-pw")
    store.record_verdict(VERDICT, run="test")
    return store


def start_replay_http(shift: Path, data_dir: Path, speed: str) -> tuple[subprocess.Popen, str, str]:
    """`traycheck replay SHIFT --http` on a free loopback port: (process, url, manager password),
    once the dashboard answers (the first start prints where the manager's password is)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "edge", "replay", str(shift), "--speed", speed,
                             "--data-dir", str(data_dir), "--http", f"127.0.0.1:{port}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    password, lines = None, []
    end = time.monotonic() + 60
    while time.monotonic() < end:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        lines.append(line)
        m = re.search(r"user 'manager'; its password is in (\S+)", line)
        password = password or (Path(m.group(1)).read_text().strip() if m else None)
        if "dashboard and HTTP API on" in line:
            break
    assert password, "".join(lines)
    return proc, f"http://127.0.0.1:{port}", password
