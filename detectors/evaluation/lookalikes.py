"""A model's look-alike pairs, from its confusion matrix on the validation split (``traycheck export``).

The pipeline counts a tray that shows one class of a pair where the order has the other as one
kitchen mistake, not two (``orders.matching.mistakes``): which classes look alike is a property of
the model's classes, so the model's metadata carries the pairs (``lookalikes``), measured where the
model is made instead of written into the matching code.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from detectors.evaluation.metrics import confusion_update
from edge.core import progress_bar

# A pair is a look-alike pair when the model mistook one for the other (both ways together) for at
# least MIN_SHARE of the two classes' validation boxes, and at least MIN_CONFUSIONS times: 1 % is
# far above what two unrelated classes show (a stray box or two in thousands) and still catches a
# pair a good model mostly keeps apart; the count keeps one unlucky box on a small split from
# making a pair.
MIN_SHARE = 0.01
MIN_CONFUSIONS = 3


def lookalike_pairs(matrix: np.ndarray, classes: Sequence[str], min_share: float = MIN_SHARE,
                    min_confusions: int = MIN_CONFUSIONS) -> list[list[str]]:
    """The pairs of ``classes`` confused with each other in ``matrix``, most confused first.

    ``matrix``: rows the truth, columns the prediction, in class-id order, optionally with a last
    row and column for background (``metrics.confusion_update``'s layout). A class's boxes are its
    row: found, taken for another class, or missed."""
    m = np.asarray(matrix, np.int64)
    n = len(classes)
    boxes = m[:n].sum(axis=1)
    found = []
    for a in range(n):
        for b in range(a + 1, n):
            confused = int(m[a, b] + m[b, a])
            total = int(boxes[a] + boxes[b])
            if total and confused >= min_confusions and confused / total >= min_share:
                found.append((-confused / total, classes[a], classes[b]))
    return [[a, b] for _, a, b in sorted(found)]


def val_confusion(model: Path, data_yaml: Path, classes: Sequence[str], conf: float | Sequence[float]) -> dict:
    """The confusion matrix of ``model`` (an ONNX file of ``classes``) on the dataset's val split, at
    ``conf`` (one threshold, or one per class), as the metadata keeps it."""
    from detectors.evaluation.dataset import load_labelled
    from detectors.onnx_backend import OnnxDetector

    data = load_labelled(data_yaml, "val")
    to_model = np.array([list(classes).index(c) for c in data.names], np.int64)  # export checked the names
    thr = np.broadcast_to(np.asarray(conf, np.float64), (len(classes),))
    det = OnnxDetector(model, conf=float(thr.min()), classes=classes)
    matrix = np.zeros((len(classes) + 1, len(classes) + 1), np.int64)
    with progress_bar(f"Confusion matrix on {len(data.images)} val photos", len(data.images)) as adv:
        for item in data.images:
            img = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
            if img is not None:
                d = det.detect(img)
                on = d.confidence > thr[d.class_id]
                h, w = img.shape[:2]
                gt = item.boxes * np.array([w, h, w, h], np.float32)
                confusion_update(matrix, d.xyxy[on], d.class_id[on], gt, to_model[item.classes])
            adv(1)
    return {"labels": [*classes, "background"], "matrix": matrix.tolist(), "rows": "truth",
            "columns": "prediction", "conf": [round(float(t), 3) for t in thr]}
