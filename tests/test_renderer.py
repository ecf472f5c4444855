"""The tray renderer: determinism, timeline, shift folders OpenCV can read, YOLO datasets."""
from __future__ import annotations

import json

import cv2
import numpy as np
import yaml

from detectors.classes import CLASSES
from detectors.synth.dataset import render_sample, write_dataset
from detectors.synth.scenario import load_scenario, parse_scenario
from detectors.synth.shift import ShiftRenderer, render_shift


def test_same_scenario_and_seed_give_same_frames(small_scenario):
    a = ShiftRenderer(load_scenario(small_scenario))
    b = ShiftRenderer(load_scenario(small_scenario))
    for i in (0, 10, 25, 40, 60, 100):  # empty, sliding in with hands, resting, fix, next tray
        assert np.array_equal(a.frame(i), b.frame(i)), i
    # frames can be rendered out of order with the same result
    assert np.array_equal(a.frame(25), ShiftRenderer(load_scenario(small_scenario)).frame(25))


def test_other_seed_gives_other_frames(small_scenario):
    other = small_scenario.with_name("other.yaml")
    other.write_text(small_scenario.read_text().replace("seed: 5", "seed: 6"))
    a, b = ShiftRenderer(load_scenario(small_scenario)), ShiftRenderer(load_scenario(other))
    assert not np.array_equal(a.frame(30), b.frame(30))


def test_timeline_tray_in_rest_out(small_scenario):
    r = ShiftRenderer(load_scenario(small_scenario))
    assert r.n_frames == int(np.ceil((5.5 + 1 + 2 + 1 + 1) * 15))
    empty, rest = r.frame(0), r.frame(int(2.0 * 15))
    # an empty counter differs from a counter with a loaded tray over most of the zone
    changed = np.abs(empty.astype(int) - rest.astype(int)).sum(axis=2) > 40
    assert changed.mean() > 0.3
    assert r.active(0.2) is None and r.active(1.0) == 0 and r.active(5.2) is None and r.active(6.0) == 1
    tray = r._tray(0)
    assert r.tray_x(tray, 0.5) < r.tray_x(tray, 1.0) < r.tray_x(tray, 1.5) == r.tray_x(tray, 3.9)
    assert r.tray_x(tray, 4.5) > r.tray_x(tray, 3.9)
    # the fix adds the second sauce while the tray rests
    assert tray.layout_before.counts()["sauce"] == 1 and tray.layout_after.counts()["sauce"] == 2
    kept = [p for p in tray.layout_before.items if p in tray.layout_after.items]
    assert len(kept) == 4  # nothing that was already there moved


def test_degradations_change_pixels(small_scenario):
    text = small_scenario.read_text().replace("seed: 5", "seed: 5\ncamera: {noise: 0.05, blur: 2, brightness: 0.6}")
    dark = ShiftRenderer(parse_scenario(text))
    clean = ShiftRenderer(load_scenario(small_scenario))
    a, b = clean.frame(30).astype(float), dark.frame(30).astype(float)
    assert b.mean() < 0.75 * a.mean()


def test_render_shift_folder(small_scenario, tmp_path):
    loaded = load_scenario(small_scenario)
    out = render_shift(loaded, tmp_path / "shift")
    assert sorted(p.name for p in out.iterdir()) == ["pos.jsonl", "scenario.yaml", "truth.jsonl", "video.mp4"]
    assert (out / "scenario.yaml").read_text() == small_scenario.read_text()
    cap = cv2.VideoCapture(str(out / "video.mp4"))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (480, 640, 3)
        n += 1
    assert n == ShiftRenderer(loaded).n_frames
    assert abs(cap.get(cv2.CAP_PROP_FPS) - 15) < 0.01
    truth = [json.loads(line) for line in (out / "truth.jsonl").read_text().splitlines()]
    assert [t["order_id"] for t in truth] == ["1042", "1043"]


def test_dataset_is_yolo_format_and_deterministic(tmp_path):
    data_yaml = write_dataset(tmp_path / "ds", 6, seed=3, val_fraction=0.34)
    data = yaml.safe_load(data_yaml.read_text())
    assert set(data) >= {"path", "train", "val", "names"}
    assert data["names"] == {i: c for i, c in enumerate(CLASSES)}
    assert len(list((tmp_path / "ds/images/train").glob("*.jpg"))) == 4
    assert len(list((tmp_path / "ds/images/val").glob("*.jpg"))) == 2
    n_boxes = 0
    for lbl in (tmp_path / "ds/labels").rglob("*.txt"):
        for line in lbl.read_text().splitlines():
            c, *xywh = line.split()
            assert 0 <= int(c) < len(CLASSES)
            assert all(0.0 <= float(v) <= 1.0 for v in xywh)
            n_boxes += 1
    assert n_boxes > 0
    img_a, boxes_a, ids_a = render_sample(3, 1)
    img_b, boxes_b, ids_b = render_sample(3, 1)
    assert np.array_equal(img_a, img_b) and np.array_equal(boxes_a, boxes_b) and np.array_equal(ids_a, ids_b)


def test_confusable_pairs_are_visibly_different():
    """A cheeseburger shows cheese corners a burger does not: its box is wider than its bun."""
    from detectors.synth.items import PAINTERS
    from detectors.synth.sprites import alpha_box

    rng = np.random.default_rng(0)

    def roundness(sp) -> float:  # item area / area of its smallest enclosing circle
        pts = np.argwhere(sp.alpha > 0.5)[:, ::-1].astype(np.float32)
        _, r = cv2.minEnclosingCircle(pts)
        return float(len(pts) / (np.pi * r * r))

    burgers = [roundness(PAINTERS["burger"](rng)) for _ in range(20)]
    cheeseburgers = [roundness(PAINTERS["cheeseburger"](rng)) for _ in range(20)]
    assert max(cheeseburgers) < 0.825 < min(burgers)
    for cls, painter in PAINTERS.items():
        assert alpha_box(painter(rng).alpha) is not None, cls


def test_synth_shift_is_byte_identical_across_processes(small_scenario, tmp_path, cli):
    """Two `synth shift` runs (two processes) of a dim, noisy, flickering, re-compressed camera give
    the same files, byte for byte: the H.264 encode is reproducible, not only the raw frames."""
    import hashlib

    degraded = small_scenario.with_name("degraded.yaml")
    degraded.write_text(small_scenario.read_text().replace(
        "seed: 5", "seed: 5\ncamera: {noise: 0.05, brightness: 0.6, flicker: 0.15, jpeg_quality: 45}"))
    digests = []
    for run in ("a", "b"):
        r = cli("synth", "shift", degraded, "-o", tmp_path / run)
        assert r.returncode == 0, r.stderr
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / run).iterdir()})
    assert digests[0] == digests[1] and set(digests[0]) == {"scenario.yaml", "video.mp4", "pos.jsonl",
                                                            "truth.jsonl"}


def test_a_noise_draw_changes_the_noise_only(small_scenario):
    text = small_scenario.read_text().replace("seed: 5", "seed: 5\ncamera: {noise: 0.05}")
    own, other = ShiftRenderer(parse_scenario(text)), ShiftRenderer(parse_scenario(text), draw=1)
    a, b = own.frame(30).astype(float), other.frame(30).astype(float)
    assert not np.array_equal(a, b)
    assert abs(a.mean() - b.mean()) < 1.0 and np.abs(cv2.blur(a, (15, 15)) - cv2.blur(b, (15, 15))).max() < 12
