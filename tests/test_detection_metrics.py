"""The metrics behind ``traycheck model compare`` on hand-made predictions: count accuracy, the
operating threshold, look-alikes in the confusion matrix, greedy matching, AP interpolations."""
from __future__ import annotations

import numpy as np
import pytest

from detectors.evaluation.metrics import IOU_THRESHOLDS, Scorer, coco_ap, match_predictions, ultralytics_ap
from test_model_compare import BOX, CLASSES3, GT_CLS

pytestmark = pytest.mark.quick


def _score(images: list[tuple], labels=CLASSES3, conf: float = 0.25) -> dict:
    """Scorer over hand-made images: each (pred_xyxy, pred_conf, pred_cls, gt_xyxy, gt_cls)."""
    s = Scorer(labels, 3, conf)
    for px, pc, pk, gx, gk in images:
        s.add(np.asarray(px, np.float32).reshape(-1, 4), np.asarray(pc, np.float32), np.asarray(pk, np.int64),
              np.asarray(gx, np.float32).reshape(-1, 4), np.asarray(gk, np.int64))
    return s.summary()


def _perfect() -> tuple:
    return BOX, np.array([0.9, 0.8, 0.7, 0.6]), GT_CLS, BOX, GT_CLS


# ---- metrics on hand-made predictions ------------------------------------------------------------------------

def test_perfect_predictions_score_one() -> None:
    r = _score([_perfect(), _perfect()])
    assert r["map50"] == 1.0 and r["map50_95"] == 1.0
    assert r["count_accuracy"] == 1.0 and r["precision"] == 1.0 and r["recall"] == 1.0
    assert r["per_class"]["burger"] == {"ap50": 1.0, "ap50_95": 1.0, "precision": 1.0, "recall": 1.0,
                                        "count_accuracy": 1.0, "gt": 4}
    m = np.array(r["confusion"]["matrix"])
    assert r["confusion"]["labels"] == [*CLASSES3, "background"]
    assert np.array_equal(m, np.diag([4, 2, 2, 0]))


def test_one_missing_box_drops_count_accuracy_exactly() -> None:
    # 4 photos; on the last one the model misses one of the two burgers
    miss = (BOX[1:], np.array([0.8, 0.7, 0.6]), GT_CLS[1:], BOX, GT_CLS)
    r = _score([_perfect(), _perfect(), _perfect(), miss])
    assert r["count_accuracy"] == 0.75  # 3 of 4 photos counted right
    assert r["per_class"]["burger"]["count_accuracy"] == 0.75
    assert r["per_class"]["fries"]["count_accuracy"] == 1.0
    assert r["per_class"]["burger"]["recall"] == 0.875  # 7 of 8 burgers found
    assert r["per_class"]["burger"]["precision"] == 1.0
    # COCO 101-point AP: precision 1 up to recall 7/8, nothing beyond: recall points 0.00..0.87 -> 88 of 101
    assert r["per_class"]["burger"]["ap50"] == round(88 / 101, 4)
    assert np.array(r["confusion"]["matrix"])[0, 3] == 1  # one burger missed -> background column


def test_extra_box_and_operating_threshold() -> None:
    extra_box = np.array([[300, 300, 350, 350]], np.float32)
    high = (np.vstack([BOX, extra_box]), np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.append(GT_CLS, 1), BOX, GT_CLS)
    low = (np.vstack([BOX, extra_box]), np.array([0.9, 0.8, 0.7, 0.6, 0.1]), np.append(GT_CLS, 1), BOX, GT_CLS)
    r = _score([high, low])
    # the false fries (0.5) counts on photo 1; below the 0.25 threshold (0.1) it does not count on photo 2
    assert r["count_accuracy"] == 0.5
    assert r["per_class"]["fries"]["precision"] == 0.6667  # 2 right of 3 above the threshold
    # the false box scores below every true fries box, so the ranking (AP) is still perfect
    assert r["per_class"]["fries"]["ap50"] == 1.0
    assert np.array(r["confusion"]["matrix"])[3, 1] == 1  # background row: one false fries


def test_look_alike_lands_off_the_diagonal() -> None:
    swapped = (BOX, np.array([0.9, 0.8, 0.7, 0.6]), np.array([0, 2, 1, 2]), BOX, GT_CLS)  # 2nd burger read as drink
    r = _score([swapped])
    m = np.array(r["confusion"]["matrix"])
    assert m[0, 2] == 1 and m[0, 0] == 1
    assert r["per_class"]["drink"]["precision"] == 0.5
    assert r["count_accuracy"] == 0.0


def test_match_is_greedy_by_confidence_and_per_threshold() -> None:
    gt = np.array([[0, 0, 100, 100]], np.float32)
    # IoU of the loose box with the truth: 100*100 / (100*120) = 0.833
    preds = np.array([[0, 0, 100, 120], [0, 0, 100, 100]], np.float32)
    tp = match_predictions(preds, np.array([0.9, 0.5]), np.array([0, 0]), gt, np.array([0]))
    # the more confident box takes the truth at every threshold it passes (0.50..0.80);
    # from 0.85 on only the exact box is good enough
    assert tp[0].tolist() == [t <= 0.8334 for t in IOU_THRESHOLDS]
    assert tp[1].tolist() == [t > 0.8334 for t in IOU_THRESHOLDS]
    # a box of another class never matches
    assert not match_predictions(gt, np.array([0.9]), np.array([1]), gt, np.array([0])).any()


def test_ap_interpolations() -> None:
    recall, precision = np.array([0.5, 1.0]), np.array([1.0, 1.0])
    assert coco_ap(recall, precision) == 1.0
    assert round(ultralytics_ap(recall, precision), 4) == 0.995  # ultralytics' mAP tops out at 0.995
    assert abs(coco_ap(np.array([0.5]), np.array([1.0])) - 51 / 101) < 1e-12  # recall points 0.00..0.50
