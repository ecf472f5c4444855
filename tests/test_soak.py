"""A recorded shift through ``traycheck run`` with retention in seconds: every snapshot file on disk
is owned by a row (and every row's file exists), and sessions and trays stay bounded while staff sign
in over and over. The 30-minute version is ``scripts/soak.py`` (docs/storage.md)."""
from __future__ import annotations

import math
from pathlib import Path

from edge.replay.soak import Soak
from tests.mqtt_helpers import Broker, free_port

ROOT = Path(__file__).resolve().parents[1]


def test_files_equal_rows_and_tables_stay_bounded_under_retention(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    try:
        soak = Soak(ROOT / "fixtures" / "lunch-rush", tmp_path / "data", broker.port, free_port(), speed=3.0,
                    retention_minutes=0.25, purge_every_minutes=0.1, session_idle_minutes=0.1,
                    signin_every_s=1.0, sample_every_s=3.0)
        report = soak.run(tmp_path / "service.log")
    finally:
        broker.stop()
    s = report.summary()
    assert report.verdicts_seen >= 15, (s, (tmp_path / "service.log").read_text()[-3000:])
    assert report.orphans == [] and report.missing == [], s
    assert s["files_seen"] > s["files_at_end"], "retention removed no snapshot: nothing was tested"
    # a session unused for 6 s is purged within a purge interval (6 s): at most ~12 s of sign-ins remain
    bound = math.ceil((0.1 * 60 + 0.1 * 60) / 1.0) + 3
    assert s["sessions_peak_second_half"] <= bound, s
    assert s["outbox_peak"] <= s["verdicts"] + 10, s
