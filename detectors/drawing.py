"""Detections drawn on a frame (the live view, annotated videos, ``traycheck detect``):
one colour per class, the class name and score over each box."""
from __future__ import annotations

import cv2
import numpy as np

from detectors.detections import Detections

PALETTE = np.array([(66, 135, 245), (0, 200, 255), (40, 180, 90), (200, 120, 40), (30, 30, 220),
                    (0, 140, 255), (60, 200, 60), (220, 60, 160), (180, 180, 40), (120, 60, 200)], np.uint8)


def annotate(frame: np.ndarray, dets: Detections, classes: tuple[str, ...]) -> np.ndarray:
    out = frame.copy()
    for (x0, y0, x1, y1), c, k in zip(dets.xyxy.astype(int), dets.confidence, dets.class_id):
        color = tuple(int(v) for v in PALETTE[k % len(PALETTE)])
        cv2.rectangle(out, (x0, y0), (x1, y1), color, 2)
        label = f"{classes[k]} {c:.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        cv2.rectangle(out, (x0, max(0, y0 - th - 6)), (x0 + tw + 4, y0), color, -1)
        cv2.putText(out, label, (x0 + 2, y0 - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return out
