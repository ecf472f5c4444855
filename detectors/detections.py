"""Detections: one dataclass of numpy arrays, filtered by indexing (like supervision's).

No per-box Python objects in the hot path: a frame's detections are three
arrays, and ``dets[dets.confidence > 0.5]`` is a new Detections.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detections:
    xyxy: np.ndarray  # (N, 4) float32, pixels of the input frame
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int64

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.class_id)

    def __getitem__(self, index: np.ndarray | slice | int) -> "Detections":
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1)
        return Detections(self.xyxy[index], self.confidence[index], self.class_id[index])

    @property
    def center(self) -> np.ndarray:
        """(N, 2) box centres."""
        return (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2

    def counts(self, n_classes: int) -> np.ndarray:
        """Per-class counts, length ``n_classes``."""
        return np.bincount(self.class_id, minlength=n_classes)[:n_classes]


class Detector(Protocol):
    """What every backend offers: the class names and one call per frame."""

    classes: tuple[str, ...]

    def detect(self, frame: np.ndarray) -> Detections:
        """Detect menu items in one BGR uint8 frame."""
        ...


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes -> (N, M)."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        ious = box_iou(xyxy[i:i + 1], xyxy[order[1:]])[0]
        order = order[1:][ious <= iou_thr]
    return np.array(keep, np.int64)
