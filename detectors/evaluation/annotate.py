"""Draw a model's boxes and the ground truth on a photo, for the report's wrong-count gallery."""
from __future__ import annotations

import cv2
import numpy as np

TRUTH = (60, 200, 60)  # BGR green, thin: what the label file says
PRED = (40, 40, 230)  # BGR red, thick: what the model said


def draw(img: np.ndarray, gt_xyxy: np.ndarray, gt_cls: np.ndarray, xyxy: np.ndarray, conf: np.ndarray,
         cls: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """A copy of ``img`` with the truth (green, name below the box) and predictions (red, name and score above)."""
    out = img.copy()
    for box, c in zip(gt_xyxy.astype(int), gt_cls):
        cv2.rectangle(out, (box[0], box[1]), (box[2], box[3]), TRUTH, 1)
        _text(out, labels[c], (box[0], min(box[3] + 12, out.shape[0] - 2)), TRUTH)
    for box, s, c in zip(xyxy.astype(int), conf, cls):
        cv2.rectangle(out, (box[0], box[1]), (box[2], box[3]), PRED, 2)
        _text(out, f"{labels[c]} {s:.2f}", (box[0], max(box[1] - 4, 10)), PRED)
    return out


def _text(img: np.ndarray, text: str, org: tuple[int, int], color: tuple[int, int, int]) -> None:
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    org = (max(0, min(org[0], img.shape[1] - tw - 2)), org[1])  # a box at the right edge keeps its name in view
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
