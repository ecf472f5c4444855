"""``bench`` rows that compare like with like (issue 15): structure and invariants on a short run,
never timing thresholds (this machine is shared)."""
from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from edge.bench.run import print_table, run_bench

CAMERA_KEYS = {"keeps_up", "dropped_fraction", "lag_start_s", "lag_end_s", "latency_p95_s", "fps_each", "rss_mb",
               "accuracy", "accuracy_min", "trays_scored"}
CAMERA_SECONDS = 9.0  # long enough for camera 0's fixture (blurry-breakfast) to finish its first tray
SCORED_AFTER_S = 1.0  # a tray is scored once the run reached its leave time + this (edge/bench/cameras.py)
SHORT_BY_S = 2.0  # how far short of CAMERA_SECONDS a busy machine may stop (its last frame's stream time)


@pytest.fixture(scope="module")
def result():
    return run_bench(None, 40, 2, None, quiet=True, cameras=[1, 2], cameras_seconds=CAMERA_SECONDS,
                     shared_seconds=1.5, ultralytics=False, idle_seconds=3.0)


def trays_seen_whole(n_cameras: int) -> int:
    """From the fixtures' truth files: the trays N cameras (camera i replays the i-th fixture, as the bench
    picks them) saw leave within the run. No tray may end near the run's end, where the count would
    depend on how far a busy machine got."""
    shifts = sorted(p.parent for p in FIXTURES.glob("*/video.mp4"))
    total = 0
    for i in range(n_cameras):
        truth = [json.loads(line) for line in (shifts[i % len(shifts)] / "truth.jsonl").read_text().splitlines()]
        done = [tr["leave_t"] + SCORED_AFTER_S for tr in truth]
        near = [t for t in done if CAMERA_SECONDS - SHORT_BY_S < t <= CAMERA_SECONDS]
        assert not near, f"{shifts[i % len(shifts)].name}: a tray is scored at {near} s, too near the run's end"
        total += sum(t <= CAMERA_SECONDS for t in done)
    return total


def test_every_row_keeps_the_contract_shape(result):
    names = [r["name"] for r in result["rows"]]
    assert names == ["onnx-fp32", "onnx-int8", "pipeline", "idle", "shared-detector", "cameras-1", "cameras-2"]
    for r in result["rows"]:
        assert r["fps"] > 0 and 0 <= r["p50_ms"] <= r["p95_ms"], r["name"]
    assert result["frames"] == 40 and result["variant"] == "int8" and "within 0.01" in result["variant_why"]
    print_table(result)  # the table shows every row without a KeyError


def test_speedup_is_only_between_rows_that_measure_the_same_thing(result):
    rows = {r["name"]: r for r in result["rows"]}
    for name, r in rows.items():
        if name not in ("onnx-fp32", "onnx-int8"):
            assert r.get("speedup_vs_ultralytics") is None and "vs_onnx_fp32" not in r, name
    shared = rows["shared-detector"]
    assert shared["speedup_2_vs_1"] == pytest.approx(shared["fps"] / shared["fps_1_caller"], rel=0.01)
    assert shared["fps_2_callers_one_session_in_turn"] > 0 and shared["fps_1_caller_one_core"] > 0


def test_the_pipeline_row_reports_its_own_overhead(result):
    p = next(r for r in result["rows"] if r["name"] == "pipeline")
    assert p["model"] == "int8" and 0 < p["detector_frames"] < 40  # (the first frames: an empty counter)
    assert p["overhead_ms"] > 0  # gate, tracker, tickets: never free
    assert p["overhead_fraction"] == pytest.approx(p["overhead_ms"] / p["detector_p50_ms"], rel=0.02, abs=0.002)
    assert p["ticket_reads"] >= 0 and 0 <= p["ticket_ms"] <= p["overhead_ms"]  # a part of the overhead
    # the same time over all 40 frames, of which the detector ran on detector_frames
    assert p["overhead_ms_per_frame"] * 40 == pytest.approx(p["overhead_ms"] * p["detector_frames"], rel=0.02, abs=0.5)


def test_camera_rows_say_whether_every_camera_keeps_up(result):
    for n in (1, 2):
        r = next(r for r in result["rows"] if r["name"] == f"cameras-{n}")
        assert CAMERA_KEYS <= set(r) and r["cameras"] == n and len(r["fps_each"]) == n
        assert all(f > 0 for f in r["fps_each"])
        assert 0 <= r["dropped_fraction"] <= 1 and r["dropped"] >= 0
        assert r["lag_start_s"] > 0 and r["lag_end_s"] > 0  # a frame is done after it was due
        assert isinstance(r["keeps_up"], bool)
        assert r["keeps_up"] == (r["lag_growth_s"] <= 0.1 and r["dropped_fraction"] <= 0.01)
        assert r["rss_mb"] > 0
        assert r["latency_p95_s"] is None or r["latency_p95_s"] >= 0
        assert r["trays_scored"] == trays_seen_whole(n) > 0, n  # the trays of the fixtures it ran, no more
        assert 0 <= r["accuracy_min"] <= r["accuracy"] <= 1


def test_bad_camera_counts_are_one_clear_line(cli):
    proc = cli("bench", "--cameras", "2,eight")
    assert proc.returncode == 2
    assert "--cameras '2,eight': expected whole numbers separated by commas" in proc.stderr
    assert "Traceback" not in proc.stderr
