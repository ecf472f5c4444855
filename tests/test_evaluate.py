"""``traycheck eval``: independent truth, trays by identity, order ids scored, fresh and repeated shifts."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SHIFTS
from detectors.classes import CLASSES
from detectors.synth.generate import KINDS, random_scenario, scenario_yaml
from detectors.synth.scenario import load_scenario, parse_scenario
from detectors.synth.shift import render_shift
from detectors.synth.shift_records import truth_records
from edge.replay.truth import diff, scenario_truth
from edge.replay.evaluate import assign, score_shift, summarize
from edge.sources.video_file import VideoFile
from orders.matching import match
from orders.menu import Menu

# Two identical orders: 602's POS message is older, but 601's tray comes first without a ticket:
# FIFO hands it 602 (right content, wrong order). 600 was never sent and its ticket is unreadable.
IDENTICAL = """\
name: identical-orders
seed: 21
camera: {noise: 0.02}
trays:
  - at: 0.5
    dwell: 3.0
    order: {id: "600", items: [{sku: NUGGET_MEAL, qty: 1}], sent: never}
    ticket: damaged
  - at: 6.0
    dwell: 3.0
    order: {id: "601", items: [{sku: WRAP, qty: 1}, {sku: DRINK, qty: 1}], sent: -1.0}
    ticket: none
  - at: 11.5
    dwell: 3.0
    order: {id: "602", items: [{sku: WRAP, qty: 1}, {sku: DRINK, qty: 1}], sent: -10.0}
    ticket: qr
"""


@pytest.fixture(scope="module")
def identical_shift(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("identical")
    (tmp / "identical.yaml").write_text(IDENTICAL)
    return render_shift(load_scenario(tmp / "identical.yaml"), tmp / "identical")


def test_the_truth_agrees_with_the_matcher_on_random_trays():
    """The evaluation's own difference and the pipeline's matcher, on 3000 random trays."""
    rng = np.random.default_rng(5)
    for _ in range(3000):
        expected = {c: int(rng.integers(1, 4)) for c in rng.choice(CLASSES, int(rng.integers(1, 5)), replace=False)}
        placed = {c: int(rng.integers(0, 4)) for c in rng.choice(CLASSES, int(rng.integers(0, 6)), replace=False)}
        m = match(expected, placed)
        assert diff(expected, {k: v for k, v in placed.items() if v}) == (m.missing, m.extra), (expected, placed)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_evaluations_truth_equals_the_renderers(kind):
    for seed in (1, 2, 3):
        text = scenario_yaml(random_scenario(kind, seed))
        loaded = parse_scenario(text)
        import yaml

        ours = scenario_truth(yaml.safe_load(text), Menu())
        keys = ("order_id", "rest_t", "leave_t", "expected", "placed", "initial", "missing", "extra", "final")
        assert [{k: r[k] for k in keys} for r in ours] == truth_records(loaded)


def test_verdicts_go_to_trays_by_identity_in_windows_that_never_overlap():
    # tray 1 rests 1.0..4.0 and is gone at 5.0; tray 2 arrives right then (no gap)
    truth = [{"rest_t": 1.0, "leave_t": 4.0}, {"rest_t": 6.0, "leave_t": 9.0}]
    vs = [
        {"camera": "c", "tray": 1, "rest_t": 1.1, "video_t": 1.6, "verdict": "mismatch"},
        {"camera": "c", "tray": 1, "rest_t": 1.1, "video_t": 5.4, "verdict": "resolved"},  # late, still tray 1's
        {"camera": "c", "tray": 2, "rest_t": 6.1, "video_t": 6.5, "verdict": "ok"},
        {"camera": "c", "tray": 3, "rest_t": 30.0, "video_t": 30.2, "verdict": "ok"},  # after every window
    ]
    by_tray, stray, split = assign(truth, vs)
    assert [v["verdict"] for v in by_tray[0]] == ["mismatch", "resolved"]
    assert [v["verdict"] for v in by_tray[1]] == ["ok"]
    assert (stray, split) == (1, 0)
    # records without a tray number fall back to their stream time, in the same windows
    by_tray, stray, _ = assign(truth, [{"video_t": 4.9, "verdict": "ok"}, {"video_t": 5.1, "verdict": "ok"}])
    assert len(by_tray[0]) == 1 and len(by_tray[1]) == 1 and stray == 0


def test_a_wrong_order_fifo_guess_with_the_right_content_is_scored_wrong(identical_shift):
    from detectors.loader import load_detector
    from edge.replay.runner import replay_folder

    from orders.queue import OrderQueue

    queue = OrderQueue()
    result = replay_folder(identical_shift, load_detector(None, "fp32", threads=2), progress=False, queue=queue)
    assert queue.pending() == []  # 601 counts as served by the first tray: not left for a stranger
    first = {}
    for v in result.verdicts:
        first.setdefault(v["tray"], v)
    got = [(v["order_id"], v["verdict"], v["association"]) for v in first.values()]
    assert got == [
        (None, "no_order", "none"),  # never sent, unreadable ticket, far from every pending order
        ("602", "ok", "fifo"),  # the older identical order: right content, wrong order
        ("602", "ok", "qr"),  # its ticket reclaims 602 from the guess
    ]
    scored = score_shift(identical_shift, result.verdicts)
    rows = scored["trays"]
    assert rows[0]["initial_right"] and rows[2]["initial_right"]
    assert rows[1]["content_right"] and not rows[1]["order_right"] and not rows[1]["initial_right"]
    assert "identical order 602" in rows[1]["undecidable"]
    report = summarize([scored])
    assert report["initial_accuracy"] == pytest.approx(66.67) and report["content_only_accuracy"] == 100.0
    assert report["by_association"]["fifo"] == {"trays": 1, "initial_accuracy": 0.0, "order_matched": 0.0}
    assert report["undecidable_trays"] == 1 and report["undecidable_right"] == 0


def test_an_order_served_by_an_earlier_identical_tray_is_served_in_the_database_too(identical_shift, tmp_path):
    """The registry's settle of 601 (served by the first tray under 602's guess) is a stored transition:
    no row stays pending, so a restart cannot make it a FIFO candidate again."""
    import sqlite3

    from edge.replay.runner import run_replay
    from edge.store.store import Store

    run_replay(identical_shift, None, None, data_dir=tmp_path / "data")
    with sqlite3.connect(tmp_path / "data" / "traycheck.db") as conn:
        rows = dict(conn.execute("SELECT id, status FROM orders").fetchall())
        reason = conn.execute("SELECT closed_reason FROM orders WHERE id = '601'").fetchone()[0]
    assert rows == {"601": "served", "602": "served"}
    assert "identical order 602" in reason
    store = Store(tmp_path / "data" / "traycheck.db")
    try:
        assert store.pending_orders_routed() == []  # what a restart would queue again
    finally:
        store.close()


def test_eval_repeats_over_noise_draws_and_its_errors(identical_shift, cli, tmp_path):
    r = cli("eval", identical_shift, "--repeats", "2", "--jobs", "2", "--json", "--keep", tmp_path / "kept")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert [x["draw"] for x in report["repeats"]] == [1, 2] and report["trays"] == 6
    assert set(report["spread"]["initial_accuracy"]) == {"min", "mean", "max"}
    a, b = (tmp_path / "kept/draws/identical-draw1/video.mp4"), (tmp_path / "kept/draws/identical-draw2/video.mp4")
    assert a.read_bytes() != b.read_bytes() != (identical_shift / "video.mp4").read_bytes()
    for args, msg in [((), "--fresh N"), (("--fresh", "1", "--kinds", "nope"), "--kinds nope: unknown"),
                      ((identical_shift, "--repeats", "1", "--verdicts", tmp_path / "v.jsonl"), "--verdicts")]:
        r = cli("eval", *args)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_fresh_seeds_are_printed_and_reproducible():
    from edge.replay.fresh import fresh_seeds

    master, pairs = fresh_seeds(["rush-hard", "lunch-rush"], 2, None)
    assert fresh_seeds(["rush-hard", "lunch-rush"], 2, master) == (master, pairs)
    assert [k for k, _ in pairs] == ["rush-hard", "rush-hard", "lunch-rush", "lunch-rush"]
    assert len({s for _, s in pairs}) == 4


@pytest.mark.parametrize("shift", SHIFTS, ids=[s.name for s in SHIFTS])
def test_fixture_truth_files_agree_with_the_evaluations_truth(shift):
    from edge.replay.truth import shift_truth

    truth, notes = shift_truth(shift, Menu())
    assert notes == [] and len(truth) >= 10


def test_eval_on_several_cameras_at_once_scores_every_camera(identical_shift, cli):
    """``--cameras N``: the shift on N cameras at once in real time, one shared model; every camera
    sees the whole video (frames seen + dropped) and is scored as a shift of its own."""
    r = cli("eval", identical_shift, "--cameras", "3", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    cams = report["cameras"]
    assert cams["cameras"] == 3 and [c["camera"] for c in cams["per_camera"]] == ["expo-1", "expo-2", "expo-3"]
    assert [s["shift"] for s in report["per_shift"]] == [f"identical on expo-{k}" for k in (1, 2, 3)]
    assert all(s["trays"] == 3 for s in report["per_shift"]) and report["trays"] == 9
    frames = len(list(VideoFile(identical_shift / "video.mp4")))
    assert all(c["frames"] + c["dropped"] == frames for c in cams["per_camera"])
    assert cams["dropped"] == sum(c["dropped"] for c in cams["per_camera"])
    for args, msg in [(("--cameras", "2", "--fresh", "1"), "--cameras"),
                      (("--cameras", "2", "--verdicts", identical_shift / "truth.jsonl"), "--cameras")]:
        r = cli("eval", identical_shift, *args)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_the_fifo_ceiling_script_finds_the_undecidable_and_the_never_sent_tray(identical_shift):
    """scripts/fifo_ceiling.py (how docs/pipeline.md counted what content can tell): 601 has no
    ticket and an identical older order (602) pending; 600's order was never sent."""
    spec = importlib.util.spec_from_file_location("fifo_ceiling", ROOT / "scripts" / "fifo_ceiling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.classify(identical_shift, 3.5, Menu(), module.model_lookalikes(None))
    assert out["identical order pending and older: undecidable"] == 1
    assert sum(n for line, n in out.items() if line.startswith("never sent")) == 1 and sum(out.values()) == 2
