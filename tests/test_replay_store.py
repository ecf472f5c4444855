"""A recorded shift as a full rehearsal: replay with storage and MQTT, killed and restarted."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.mqtt_helpers import Broker, Collector

SHIFT = FIXTURES / "dim-evening"


def replay_cmd(data, port, verdicts=None):
    cmd = [sys.executable, "-m", "edge", "replay", str(SHIFT), "--speed", "max", "--data-dir", str(data),
           "--mqtt", f"mqtt://127.0.0.1:{port}", "--site", "r1"]
    return cmd + (["--verdicts", str(verdicts)] if verdicts else [])


@pytest.mark.slow
def test_sigkill_mid_shift_then_restart_loses_nothing_and_duplicates_nothing(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    sub = Collector(broker.port)
    try:
        # the reference: one uninterrupted run of the same shift
        ref = tmp_path / "ref.jsonl"
        subprocess.run(replay_cmd(tmp_path / "ref-data", 1, ref), cwd=ROOT, check=True, capture_output=True,
                       timeout=600)
        expected = [json.loads(line)["id"] for line in ref.read_text().splitlines()]
        assert expected
        data = tmp_path / "data"
        p = subprocess.Popen(replay_cmd(data, broker.port), cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # kill it once some verdicts are stored
            time.sleep(0.5)
            try:
                n = sqlite3.connect(data / "traycheck.db").execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
            except sqlite3.OperationalError:  # not created or not migrated yet
                continue
            if n >= len(expected) // 3:
                break
        p.send_signal(signal.SIGKILL)
        p.wait()
        subprocess.run(replay_cmd(data, broker.port), cwd=ROOT, check=True, capture_output=True, timeout=600)
        conn = sqlite3.connect(data / "traycheck.db")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = [r[0] for r in conn.execute("SELECT id FROM verdicts ORDER BY video_t")]
        assert sorted(stored) == sorted(expected)  # nothing lost, nothing twice
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
        got = [d["id"] for d in sub.wait_for(len(expected), "/verdict", timeout=30)]
        assert got == [i for i in expected]  # every verdict once after dedup, in order
    finally:
        sub.stop()
        broker.stop()
