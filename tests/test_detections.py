"""Detections arrays, NMS and the letterbox geometry."""
from __future__ import annotations

import numpy as np
import pytest

from detectors.detections import Detections, box_iou, nms
from detectors.letterbox import Letterboxer, geometry

pytestmark = pytest.mark.quick


def test_detections_filter_by_indexing():
    d = Detections(np.array([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 2, 2]], np.float32),
                   np.array([0.9, 0.3, 0.6], np.float32), np.array([2, 2, 9]))
    strong = d[d.confidence > 0.5]
    assert len(strong) == 2 and strong.class_id.tolist() == [2, 9]
    assert d.counts(10).tolist() == [0, 0, 2, 0, 0, 0, 0, 0, 0, 1]
    assert d.center[0].tolist() == [5.0, 5.0]
    assert len(Detections.empty()) == 0 and Detections.empty().counts(3).tolist() == [0, 0, 0]


def test_iou_and_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], np.float32)
    assert box_iou(boxes[:1], boxes[1:2])[0, 0] == pytest.approx(90 / 110)
    keep = nms(boxes, np.array([0.5, 0.9, 0.4], np.float32), 0.7)
    assert keep.tolist() == [1, 2]
    assert nms(boxes, np.array([0.5, 0.9, 0.4], np.float32), 0.95).tolist() == [1, 0, 2]


def test_letterbox_4_3_frame_into_320x256():
    g = geometry((480, 640), (256, 320))
    assert (g.scale, g.left, g.top, g.new_w, g.new_h) == (0.5, 0, 8, 320, 240)
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[..., 2] = 255  # pure red in BGR
    blob, _ = Letterboxer((256, 320))(frame)
    assert blob.shape == (1, 3, 256, 320) and blob.dtype == np.float32
    assert blob[0, 0, 100, 100] == pytest.approx(1.0)  # R channel first: swapped to RGB
    assert blob[0, 1, 100, 100] == 0.0
    assert blob[0, 0, 3, 100] == pytest.approx(114 / 255)  # the padding band


def test_letterbox_matches_ultralytics():
    la = pytest.importorskip("ultralytics.data.augment")
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    ref = la.LetterBox(new_shape=(256, 320), auto=False, stride=32)(image=frame)
    blob, _ = Letterboxer((256, 320))(frame)
    mine = (blob[0].transpose(1, 2, 0)[..., ::-1] * 255).round().astype(np.uint8)
    assert np.array_equal(mine, ref)


def test_drop_merged_keeps_two_touching_items_and_drops_the_box_spanning_both():
    from detectors.detections import Detections, drop_merged

    # two sauce tubs side by side, plus two boxes spanning both (seen on a fixture frame)
    xyxy = np.array([[196, 152, 242, 215], [180, 152, 241, 218], [151, 152, 240, 223], [148, 161, 197, 229],
                     [134, 222, 255, 343]], np.float32)
    d = Detections(xyxy, np.array([0.72, 0.63, 0.61, 0.52, 0.97], np.float32), np.array([9, 9, 9, 9, 5]))
    kept = drop_merged(d)
    assert sorted(kept.xyxy[:, 0].tolist()) == [134, 148, 196]
    # a different class inside a box is not a duplicate
    other = Detections(xyxy[[0, 1]], np.array([0.9, 0.8], np.float32), np.array([9, 4]))
    assert len(drop_merged(other)) == 2


def test_drop_merged_keeps_one_class_for_one_item():
    from detectors.detections import Detections, drop_merged

    # a sundae that also scores as a sauce tub: the same box twice (seen on a dim fixture frame)
    xyxy = np.array([[386, 92, 447, 154], [388, 92, 448, 153], [264, 95, 357, 187]], np.float32)
    d = Detections(xyxy, np.array([0.66, 0.59, 0.91], np.float32), np.array([8, 9, 1]))
    kept = drop_merged(d)
    assert sorted(kept.class_id.tolist()) == [1, 8]
