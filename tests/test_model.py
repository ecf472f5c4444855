"""The committed detector: metadata, it loads, it finds the items of rendered trays,
and the ONNX backend agrees with ultralytics' own predict on the same weights."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from detectors.classes import CLASSES
from detectors.detections import box_iou
from detectors.loader import load_detector
from detectors.model_info import DEFAULT_MODEL, MODELS_DIR
from detectors.synth.scenario import parse_scenario
from detectors.synth.shift import ShiftRenderer
from edge.bench.detectors import load_frames
from tests.conftest import FIXTURES

META = json.loads((MODELS_DIR / f"{DEFAULT_MODEL}.json").read_text())

FRESH = """\
name: model-check
seed: 9090
trays:
  - {at: 0.0, dwell: 2.0, order: {id: "1", items: [{sku: CHEESEBURGER_MEAL, qty: 1}, {sku: SAUCE_MAYO, qty: 1}]}}
  - {at: 4.5, dwell: 2.0, order: {id: "2", items: [{sku: CHICKEN_MEAL, qty: 1}, {sku: WRAP, qty: 1}]}, clutter: 2}
  - {at: 9.0, dwell: 2.0, order: {id: "3", items: [{sku: NUGGET_MEAL, qty: 1}, {sku: SALAD, qty: 1}, {sku: SUNDAE, qty: 1}]}}
  - {at: 13.5, dwell: 2.0, order: {id: "4", items: [{sku: BURGER, qty: 2}, {sku: CHEESEBURGER, qty: 1}]}, ticket: none}
  - {at: 18.0, dwell: 2.0, order: {id: "5", items: [{sku: WRAP, qty: 1}, {sku: CHICKEN_SANDWICH, qty: 1}, {sku: SAUCE_BBQ, qty: 2}]}}
"""


def test_metadata_describes_the_model():
    assert META["classes"] == list(CLASSES)
    assert META["imgsz"] == [256, 320]
    for key in ("seed", "imgsz", "images", "epochs"):
        assert key in META["train"]
    for variant in ("fp32", "int8"):
        assert (MODELS_DIR / META["files"][variant]).is_file()
        m = META["metrics"][variant]
        assert 0 < m["mAP50-95"] <= m["mAP50"] <= 1
    assert META["metrics"]["val_seed"] != META["train"]["seed"]


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_committed_model_finds_the_items_of_rendered_trays(variant):
    loaded = parse_scenario(FRESH)
    renderer = ShiftRenderer(loaded)
    det = load_detector(None, variant)
    assert det.classes == CLASSES
    for tray in loaded.scenario.trays:
        frame = renderer.frame(int((tray.rest_t + 0.5) * renderer.fps))
        dets = det.detect(frame)
        seen = Counter(CLASSES[i] for i in dets.class_id)
        assert seen == loaded.placed(tray), (variant, tray.order.id)


def _match(a, b):
    """Greedy IoU matching of detections ``a`` to ``b``: list of (i, j, iou)."""
    if len(a) == 0 or len(b) == 0:
        return []
    iou = box_iou(a.xyxy, b.xyxy)
    pairs = []
    for i in np.argsort(-a.confidence):
        j = int(np.argmax(iou[i]))
        if iou[i, j] > 0.5:
            pairs.append((int(i), j, float(iou[i, j])))
            iou[:, j] = -1
    return pairs


def test_onnx_backend_matches_ultralytics_predict():
    pytest.importorskip("ultralytics")
    frames = load_frames(FIXTURES / "lunch-rush", 40)
    onnx = load_detector(None, "fp32", backend="onnx")
    ref = load_detector(None, "pt", backend="ultralytics")
    compared = 0
    for frame in frames:
        a, b = ref.detect(frame), onnx.detect(frame)
        pairs = _match(a, b)
        # every box of either side above the threshold margin has its partner
        margin = 0.25 + 0.02
        assert len(pairs) >= (a.confidence > margin).sum() and len(pairs) >= (b.confidence > margin).sum()
        for i, j, iou in pairs:
            assert iou >= 0.9
            assert a.class_id[i] == b.class_id[j]
            assert abs(float(a.confidence[i]) - float(b.confidence[j])) <= 0.02
            compared += 1
    assert compared > 50
