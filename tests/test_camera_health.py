"""Camera health: each check on real rendered frames and the faults made from them, the
persistence state machine on stream time, the reference view on disk, replay --health."""
from __future__ import annotations

import json

import numpy as np
import pytest

import health_helpers as hh
from conftest import SHIFTS
from edge.pipeline.camera_health import CameraHealth, HealthParams, HealthStates
from edge.pipeline.health_checks import CHECKS, Reading, check_frozen, check_view, frame_change
from edge.pipeline.reference_view import ReferenceView, reference_path, small_grey
from edge.replay.health_eval import read_camera_truth

pytestmark = pytest.mark.quick


@pytest.fixture(scope="module")
def reference() -> ReferenceView:
    return ReferenceView.from_greys([small_grey(hh.idle(i)) for i in range(0, 75, 15)])


def raised(img: np.ndarray, ref: ReferenceView) -> dict[str, int]:
    return {k: r.level for k, r in check_view(small_grey(img), ref).items() if r.level}


def test_a_normal_empty_station_reads_ok_on_every_check(reference):
    for i in (76, 83, 91, 99):  # other noise draws than the reference's samples
        assert raised(hh.idle(i), reference) == {}


def test_a_tray_and_hands_passing_through_the_view_raise_nothing(reference):
    # the pipeline judges only frames without recognised items; this is the harder case: every frame judged
    readings = [raised(hh.with_tray(i), reference) for i in range(0, 90, 3)]
    assert readings == [{}] * len(readings)


@pytest.mark.parametrize("make, check, level", [
    (lambda f: hh.covered(f, 0.9), "covered", 2),
    (lambda f: hh.covered(f, 0.6), "covered", 1),
    (lambda f: hh.darkened(f, 0.4), "dark", 2),
    (lambda f: hh.darkened(f, 0.6), "dark", 1),
    (lambda f: hh.brightened(f, 2.0), "overexposed", 2),
    (lambda f: hh.blurred(f, 3.0), "blurred", 2),
    (lambda f: hh.shifted(f, 0.1, 0.05), "moved", 2),
    (lambda f: hh.shifted(f, 0.0, 0.0, 5.0), "moved", 2),
    (lambda f: hh.shifted(f, 0.03, 0.0), "moved", 1),
    (lambda f: hh.shifted(f, 0.05, 0.0), "moved", 2),  # along the streaks of the counter
])
def test_each_fault_reads_as_its_check_and_only_that(reference, make, check, level):
    got = check_view(small_grey(make(hh.idle(90))), reference)
    assert {k: r.level for k, r in got.items() if r.level} == {check: level}
    assert got[check].reason  # says what it saw


def test_a_small_knock_is_not_a_move(reference):
    assert raised(hh.shifted(hh.idle(90), 0.01, 0.0), reference) == {}


def test_frozen_means_a_repeated_frame_not_a_still_scene():
    still = [hh.idle(i) for i in range(80, 86)]  # nothing moves, but the sensor's noise does
    assert all(check_frozen(frame_change(a, b)).level == 0 for a, b in zip(still, still[1:]))
    assert check_frozen(frame_change(still[0], still[0].copy())).level == 2


def test_a_fault_persists_before_it_is_raised_and_clears_by_itself():
    st = HealthStates(HealthParams(raise_s=8.0, clear_s=4.0))
    bad, good = {"covered": Reading(2, "90 % of the view is uniform")}, {"covered": Reading(0)}
    assert not any(st.update(t, bad) for t in range(10, 18))  # 7 s of it: not yet
    assert st.update(18.0, bad) and st.checks["covered"].state == "fault" and st.checks["covered"].since == 10.0
    assert st.worst == "fault" and st.checks["covered"].reason == "90 % of the view is uniform"
    assert not any(st.update(t, good) for t in (19.0, 20.0, 21.0))  # 2 s good: still raised
    assert st.update(23.0, good) and st.checks["covered"].state == "ok" and st.worst == "ok"


def test_a_passing_blip_never_raises_and_a_bad_sample_restarts_the_clearing():
    st = HealthStates(HealthParams(raise_s=8.0, clear_s=4.0, gap_s=2.0))
    for t in range(0, 40):  # 5 s bad, 3 s good (longer than a dropout), repeated: never 8 s in a row
        assert not st.update(float(t), {"dark": Reading(2 if t % 8 < 5 else 0, "dark")})
    for t in range(40, 49):
        st.update(float(t), {"dark": Reading(2, "dark")})
    assert st.checks["dark"].state == "fault"
    for t, lvl in ((50, 0), (52, 2), (53, 0), (56, 0)):
        st.update(float(t), {"dark": Reading(lvl)})
    assert st.checks["dark"].state == "fault"  # the bad sample at 52 s restarted the 4 s
    assert st.update(57.0, {"dark": Reading(0)}) and st.checks["dark"].state == "ok"


def test_a_fault_that_reads_good_on_a_single_sample_is_still_raised():
    """A knocked camera's frame that happens to line up, a key frame inside a frozen picture:
    a dropout shorter than ``gap_s`` does not restart the 8 s."""
    st = HealthStates(HealthParams(raise_s=8.0, clear_s=4.0, gap_s=2.0))
    raised_at = [t for t in range(0, 12) if st.update(float(t), {"moved": Reading(0 if t in (3, 6) else 2, "moved")})]
    assert raised_at == [8] and st.checks["moved"].since == 0.0
    frozen = [t for t in range(0, 12) if st.update(float(t), {"frozen": Reading(0 if t in (3, 6) else 2, "same")})]
    assert frozen == []  # a repeated frame is exact: a changed one ends the streak (noise-free scenes)


def test_a_warning_that_turns_into_a_fault_and_back():
    st = HealthStates(HealthParams(raise_s=8.0, clear_s=4.0))
    for t in range(0, 9):
        st.update(float(t), {"blurred": Reading(1, "soft")})
    assert st.checks["blurred"].state == "warning"
    for t in range(9, 18):
        st.update(float(t), {"blurred": Reading(2, "fogged")})
    assert (st.checks["blurred"].state, st.checks["blurred"].since) == ("fault", 9.0)
    for t in range(18, 23):
        st.update(float(t), {"blurred": Reading(1, "soft")})
    assert st.checks["blurred"].state == "warning"


def feed(health: CameraHealth, frames, t0: float, fps: float = 15.0, idle: bool = True) -> float:
    prev = None
    t = t0
    for i, f in enumerate(frames):
        t = t0 + i / fps
        health.observe(t, f, prev, idle)
        prev = f
    return t + 1 / fps


def test_the_camera_learns_its_reference_then_raises_and_clears_a_cover_on_stream_time(tmp_path):
    changes, learned = [], []
    health = CameraHealth("expo-1", on_change=changes.append, on_learned=learned.append)
    normal = [hh.idle(i) for i in range(100)]
    t = feed(health, normal, 0.0)  # 6.7 s of the empty station: learned after 5 s
    assert learned and health.reference is learned[0] and changes == []
    cover = [hh.covered(normal[i % 100], 0.9, seed=i) for i in range(15 * 15)]
    t = feed(health, cover, t)
    raised_at = [c for c in changes if c["state"] == "fault"]
    assert len(raised_at) == 1 and raised_at[0]["checks"]["covered"]["state"] == "fault"
    start = 100 / 15
    assert start + 7.0 <= raised_at[0]["t"] <= start + 10.0  # persisted ~8 s, on stream time
    assert raised_at[0]["checks"]["dark"]["state"] == "ok"  # explained by the cover: not raised too
    assert set(raised_at[0]["checks"]) == set(CHECKS)
    end = t
    feed(health, normal, t)
    assert changes[-1]["state"] == "ok" and end + 3.0 <= changes[-1]["t"] <= end + 6.0
    assert len(changes) == 2 and health.samples < 45  # once a second, not per frame


def test_the_reference_is_kept_and_a_broken_file_is_learned_again(tmp_path, reference):
    path = reference_path(tmp_path, "expo-1")
    reference.save(path)
    back = ReferenceView.load(path)
    assert back is not None and np.array_equal(back.grey, reference.grey)
    assert (back.brightness, back.sharpness, len(back.points)) == (reference.brightness, reference.sharpness,
                                                                   len(reference.points))
    path.write_bytes(b"not a reference")
    assert ReferenceView.load(path) is None
    assert ReferenceView.load(tmp_path / "none.npz") is None


@pytest.mark.slow  # renders, encodes and replays a shift: not in the quick tier
def test_replay_health_log_has_the_first_state_and_every_change(tmp_path, cli):
    video = tmp_path / "shift"
    from health_helpers import write_fault_shift

    write_fault_shift(video, cover_from=8.0, cover_to=24.0, end=32.0)
    out = tmp_path / "health.jsonl"
    r = cli("replay", video, "--speed", "max", "--health", out)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["state"] for x in lines] == ["ok", "fault", "ok"], lines
    assert lines[0]["t"] == 0.0 and set(lines[0]["checks"]) == set(CHECKS)
    assert lines[1]["checks"]["covered"]["state"] == "fault" and 8.0 <= lines[1]["t"] <= 8.0 + 15
    assert 24.0 <= lines[2]["t"] <= 24.0 + 15
    assert f"camera health: covered fault at {lines[1]['t']:.1f} s" in r.stdout + r.stderr


@pytest.mark.slow  # renders, encodes and replays a shift: not in the quick tier
def test_a_frozen_picture_through_h264_is_raised_and_cleared(tmp_path):
    from detectors.loader import load_detector
    from edge.replay.runner import replay_folder
    from health_helpers import write_fault_shift

    shift = write_fault_shift(tmp_path / "frozen", 8.0, 28.0, end=36.0, kind="freeze")
    out = tmp_path / "health.jsonl"
    replay_folder(shift, load_detector(None, "fp32", threads=1), None, progress=False, health_log=out)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["state"] for x in lines] == ["ok", "fault", "ok"], lines
    assert lines[1]["checks"]["frozen"]["state"] == "fault" and 8.0 <= lines[1]["t"] <= 8.0 + 15
    assert [n for n, c in lines[1]["checks"].items() if c["state"] != "ok"] == ["frozen"]
    assert 28.0 <= lines[2]["t"] <= 28.0 + 15


@pytest.mark.slow
@pytest.mark.parametrize("shift", SHIFTS, ids=[s.name for s in SHIFTS])
def test_every_bundled_fixture_replays_without_a_health_alarm(shift, tmp_path, cli):
    out = tmp_path / "health.jsonl"
    r = cli("replay", shift, "--speed", "max", "--health", out)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    faults = read_camera_truth(shift)
    if not faults:
        assert [x["state"] for x in lines] == ["ok"] and "camera health: no alarm" in r.stdout + r.stderr
        return
    # camera-trouble: each fault raised as its own check, in time, and nothing raised outside the faults
    for f in faults:
        raised = [x["t"] for x in lines if x["checks"][f["check"]]["state"] == "fault"]
        assert raised and f["start"] <= raised[0] <= f["start"] + 15, (f, raised)
    for x in lines:
        bad = [n for n, c in x["checks"].items() if c["state"] != "ok"]
        assert all(any(f["start"] <= x["t"] <= f["end"] + 15 and n == f["check"] for f in faults) for n in bad), x


def test_no_frames_follows_the_capture_layer():
    from edge.app.station_health import no_frames

    changes = []
    health = CameraHealth("expo-1", on_change=changes.append)
    health.set_no_frames(*no_frames({"state": "ok", "reason": None}))
    health.set_no_frames(*no_frames({"state": "reconnecting", "reason": "not opened yet"}))
    assert changes == []  # ok to ok, and a camera still starting: nothing to say
    health.set_no_frames(*no_frames({"state": "reconnecting", "reason": "stream did not answer"}))
    health.set_no_frames(*no_frames({"state": "failed", "reason": "stream did not answer"}))
    health.set_no_frames(*no_frames({"state": "ok", "reason": None}))
    assert [(c["state"], c["checks"]["no_frames"]["reason"]) for c in changes] == [
        ("warning", "stream did not answer"), ("fault", "stream did not answer"), ("ok", "")]
