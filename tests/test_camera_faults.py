"""Camera faults in the renderer (scenario key ``camera_events``, ``camera_truth.jsonl``) and the
``camera-trouble`` kind: validation, the effects measured on the decoded video, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.synth.generate import random_scenario, scenario_yaml
from detectors.synth.scenario import load_scenario, parse_scenario
from detectors.synth.shift import ShiftRenderer, render_shift
from test_scenario import assert_refused

FAULTS = """\
name: camera-faults
seed: 3
video: {width: 320, height: 240, fps: 5}
camera: {noise: 0.03, flicker: 0.04}
camera_events:
  - {at: 2.0, kind: cover, duration: 2.0}
  - {at: 5.0, kind: dark, duration: 2.0}
  - {at: 8.0, kind: blur, duration: 2.0}
  - {at: 11.0, kind: move, duration: 2.0, amount: 24}
  - {at: 14.0, kind: freeze, duration: 3.0}
"""
FPS = 5


@pytest.fixture(scope="module")
def fault_shift(tmp_path_factory) -> Path:
    """Every fault once on an empty counter, rendered and encoded like any shift."""
    tmp = tmp_path_factory.mktemp("faults")
    (tmp / "faults.yaml").write_text(FAULTS)
    return render_shift(load_scenario(tmp / "faults.yaml"), tmp / "faults")


def decoded_grey(folder: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(folder / "video.mp4"))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32))


BAD_EVENTS = [
    # (the camera_events block, fragments of the one-line message)
    ("  - {at: 2.0, kind: smoke, duration: 2.0}", ["line 4", "camera_events.0.kind", "cover"]),
    ("  - {at: 2.0, kind: dark, duration: -1.0}", ["line 4", "camera_events.0.duration", "greater than 0"]),
    ("  - {at: 2.0, kind: dark, duration: 5.0}\n  - {at: 6.0, kind: cover, duration: 2.0}",
     ["line 5", "camera_events.1.at", "overlap", "7.0"]),
    ("  - {at: 2.0, kind: dark, duration: 5.0, amount: 1.5}", ["line 4", "camera_events.0.amount", "0.0..0.9"]),
    ("  - {at: 2.0, kind: freeze, duration: 5.0, amount: 0.5}", ["camera_events.0.amount", "no amount"]),
    ("  - {at: -2.0, kind: move, duration: 5.0}", ["camera_events.0.at", "greater than or equal to 0"]),
    ("  - {at: 2.0, kind: move, duration: 5.0, size: 3}", ["camera_events.0.size", "not permitted"]),
]


@pytest.mark.parametrize("events,fragments", BAD_EVENTS)
def test_bad_camera_events_name_key_and_line(tmp_path, events, fragments):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: bad\nseed: 1\ncamera_events:\n{events}\n")
    assert_refused(bad, fragments)


def test_the_cli_refuses_a_bad_event_in_one_line(tmp_path, cli):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nseed: 1\ncamera_events:\n  - {at: 2.0, kind: smoke, duration: 2.0}\n")
    r = cli("synth", "shift", bad, "-o", tmp_path / "out")
    assert r.returncode == 2 and "camera_events.0.kind" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_no_events_renders_exactly_as_before(small_scenario):
    """The key is optional: an empty list changes no frame, and the video lasts until the last
    event is over."""
    text = small_scenario.read_text()
    plain = ShiftRenderer(parse_scenario(text))
    empty = ShiftRenderer(parse_scenario(text + "camera_events: []\n"))
    assert plain.n_frames == empty.n_frames
    for i in (0, 25, 60):
        assert np.array_equal(plain.frame(i), empty.frame(i))
    late = parse_scenario(text + "camera_events:\n  - {at: 20.0, kind: dark, duration: 4.0}\n")
    assert late.scenario.duration == pytest.approx(25.0)


def test_camera_truth_names_the_check_that_must_fire(fault_shift):
    rows = [json.loads(x) for x in (fault_shift / "camera_truth.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["check"], r["start"], r["end"]) for r in rows] == [
        ("cover", "covered", 2.0, 4.0), ("dark", "dark", 5.0, 7.0), ("blur", "blurred", 8.0, 10.0),
        ("move", "moved", 11.0, 13.0), ("freeze", "frozen", 14.0, 17.0)]
    assert [r["amount"] for r in rows] == [0.85, 0.12, 0.8, 24.0, 0.0]  # defaults filled in


def test_fault_effects_on_the_decoded_video(fault_shift):
    g = decoded_grey(fault_shift)
    normal = g[int(1.0 * FPS)]
    at = {kind: g[int(t * FPS)] for kind, t in (("cover", 3.0), ("dark", 6.0), ("blur", 9.0), ("move", 12.0))}
    # cover: one uniform object over 85 % of the width, on the side the event drew
    fault = ShiftRenderer(load_scenario(fault_shift / "scenario.yaml")).faults[0][2]
    assert fault.kind == "cover" and fault.side in (0, 1)
    n = int(320 * 0.85) - 4
    part = (slice(None), slice(0, n)) if fault.side == 0 else (slice(None), slice(320 - n, 320))
    assert at["cover"][part].std() < 6.0 < 12.0 < normal[part].std()
    # dark: light at 12 % of normal
    assert at["dark"].mean() < 0.2 * normal.mean()
    # blur and fog: much less contrast and fine detail (sensor noise keeps some high frequencies)
    assert at["blur"].std() < 0.5 * normal.std()
    lap = [cv2.Laplacian(cv2.resize(x, (80, 60), interpolation=cv2.INTER_AREA), cv2.CV_32F).var()
           for x in (at["blur"], normal)]
    assert lap[0] < 0.3 * lap[1]
    # move: the whole scene shifted by about the 24 pixels asked for; two normal frames line up
    crop = (slice(40, 200), slice(40, 280))
    shift, _ = cv2.phaseCorrelate(normal[crop], at["move"][crop])
    still, _ = cv2.phaseCorrelate(normal[crop], g[int(1.6 * FPS)][crop])
    assert 18 < np.hypot(*shift) < 30 and np.hypot(*still) < 2


def test_a_freeze_repeats_the_frame_noise_included_and_only_then(fault_shift):
    g = decoded_grey(fault_shift)
    diffs = [float(np.abs(a - b).mean()) for a, b in zip(g, g[1:])]  # diffs[i]: frame i+1 vs frame i
    frozen = diffs[14 * FPS:17 * FPS - 1]
    live = diffs[:2 * FPS - 1] + diffs[17 * FPS:]
    # identical pairs, but for the encoder's key frame every 2 s (it codes the same picture anew)
    assert sum(d == 0.0 for d in frozen) >= len(frozen) - 2 and max(frozen) < 3.0
    assert min(live) > 1.0  # sensor noise and light flicker: a live camera never repeats a frame


def test_camera_trouble_kind_is_deterministic_and_keeps_its_rules():
    a = random_scenario("camera-trouble", 5)
    assert a == random_scenario("camera-trouble", 5) and a != random_scenario("camera-trouble", 6)
    for seed in range(1, 9):
        doc = random_scenario("camera-trouble", seed)
        loaded = parse_scenario(scenario_yaml(doc))  # valid
        events = loaded.scenario.camera_events
        assert sorted(e.kind for e in events) == ["blur", "cover", "dark", "freeze", "move"]
        assert events[0].at >= 20.0 and all(20.0 <= e.duration <= 40.0 for e in events)
        assert all(b.at - a.end >= 20.0 for a, b in zip(events, events[1:]))
        trays = loaded.scenario.trays
        for a_ev, b_ev in zip(events, events[1:]):  # normal trays between every two faults
            assert any(a_ev.end < t.at and t.gone_t < b_ev.at for t in trays)
        assert all(t.gone_t <= e.at - 2.99 or t.at >= e.end + 2.99 for t in trays for e in events)
        assert trays[0].at >= 6.0  # 5 s of empty counter for the reference view
        assert len({t.order.id for t in trays}) == len(trays)
        cam = loaded.scenario.camera
        assert cam.noise > 0 and cam.flicker > 0  # only a freeze repeats a frame


# ---- eval scores health: hand-made health change lists against the renderer's camera_truth.jsonl ----

CHECKS = ("covered", "dark", "overexposed", "blurred", "moved", "frozen", "no_frames")


def changes(*steps: tuple[float, str, str]) -> list[dict]:
    """Health change lines of the interface from (t, check, new state) steps: every line lists every
    check (its state carried over), ``state`` is the worst; the first line is the first state."""
    now = dict.fromkeys(CHECKS, "ok")
    out = [{"camera": "expo-1", "t": 0.0, "state": "ok",
            "checks": {c: {"state": "ok", "reason": "", "since": 0.0} for c in CHECKS}}]
    for t, check, state in steps:
        now[check] = state
        out.append({"camera": "expo-1", "t": t, "state": max(now.values(), key=("ok", "warning", "fault").index),
                    "checks": {c: {"state": s, "reason": "", "since": t} for c, s in now.items()}})
    return out


def test_health_is_scored_per_fault_with_delays_and_false_alarms(fault_shift):
    from edge.core import console
    from edge.replay.eval_report import print_health
    from edge.replay.health_eval import read_camera_truth, score_health, stream_seconds, summarize_health

    log = changes(
        (3.5, "covered", "fault"), (5.5, "dark", "fault"),  # cover 2-4 raised after 1.5 s; dark 5-7 after 0.5 s
        (5.6, "covered", "ok"), (5.7, "covered", "fault"),  # cover cleared 1.6 s after its end; dark reads as covered
        (8.0, "dark", "ok"), (8.0, "covered", "ok"),  # dark cleared 1.0 s after its end
        (9.0, "blurred", "warning"), (10.5, "blurred", "ok"),  # blur 8-10: a warning is not a raise
        (12.5, "moved", "fault"), (15.0, "frozen", "fault"),  # move 11-13 cleared 27 s late; freeze 14-17 never
        (40.0, "moved", "ok"), (50.0, "moved", "fault"), (55.0, "moved", "ok"))  # moved again: a false alarm
    truth = read_camera_truth(fault_shift)
    stream = stream_seconds(fault_shift)
    assert stream == pytest.approx(18.0)
    scored = score_health("faults", truth, log, stream)
    got = {f["kind"]: (f["detected"], f["detect_delay_s"], f["clear_delay_s"], f["in_time"]) for f in scored["faults"]}
    assert got == {"cover": (True, 1.5, 1.6, True), "dark": (True, 0.5, 1.0, True),
                   "blur": (False, None, None, False), "move": (True, 1.5, 27.0, False),
                   "freeze": (True, 1.0, None, False)}
    assert scored["faults"][1]["other_checks"] == ["covered"]
    assert scored["false_alarms"] == [{"check": "moved", "t": 50.0, "cleared": 55.0}]
    # a clean half hour with one alarm (and warnings, which are none): 2 per hour
    clean = score_health("clean", [], changes((100.0, "dark", "warning"), (700.0, "dark", "fault"),
                                              (712.0, "dark", "ok")), 1800.0)
    report = {"health": summarize_health([scored, clean])}
    h = report["health"]
    assert h["faults"] == 5 and h["faults_in_time"] == 2 and h["false_alarms"] == 2
    assert h["fault_free_stream_h"] == 0.5 and h["false_alarms_per_hour"] == 2.0
    assert h["by_kind"]["cover"]["detect_delay_max_s"] == 1.5 and h["by_kind"]["blur"]["detected"] == 0
    report["health_faults"] = [dict(f, shift="faults") for f in scored["faults"]]
    with console.capture() as cap:
        print_health(report)
    out = cap.get()
    assert "false health alarms: 2 (2.0 per hour over 30.0 min" in out and "blur 8.0-10.0 s: blurred not raised" in out
    assert "move 11.0-13.0 s: moved raised after 1.5 s, cleared 27.0 s after its end" in out
    assert read_camera_truth(fault_shift.parent) == []  # a shift without faults has no truth file


def test_the_bundled_fixtures_carry_the_health_truth_of_their_scenario():
    """camera-trouble has each fault once with its truth; the other fixtures have neither."""
    from conftest import SHIFTS
    from detectors.synth.shift_records import camera_truth_records
    from edge.replay.health_eval import read_camera_truth

    kinds = {}
    for shift in SHIFTS:
        loaded = load_scenario(shift / "scenario.yaml")
        assert read_camera_truth(shift) == camera_truth_records(loaded)
        kinds[shift.name] = sorted(r["kind"] for r in read_camera_truth(shift))
    assert kinds.pop("camera-trouble") == ["blur", "cover", "dark", "freeze", "move"]
    assert all(k == [] for k in kinds.values()) and len(kinds) >= 3
