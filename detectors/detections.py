"""Detections: one dataclass of numpy arrays, filtered by indexing (like supervision's).

No per-box Python objects in the hot path: a frame's detections are three
arrays, and ``dets[dets.confidence > 0.5]`` is a new Detections.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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
        c: np.ndarray = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2  # numpy types slicing as Any
        return c

    def counts(self, n_classes: int) -> np.ndarray:
        """Per-class counts, length ``n_classes``."""
        return np.bincount(self.class_id, minlength=n_classes)[:n_classes]


class Detector(Protocol):
    """What every backend offers: the class names, the pairs of them it mistakes for each other (from
    its metadata, for ``orders.matching.mistakes``) and one call per frame."""

    classes: tuple[str, ...]
    lookalikes: tuple[tuple[str, str], ...]

    def detect(self, frame: np.ndarray) -> Detections:
        """Detect menu items in one BGR uint8 frame."""
        ...


class ModelDetector(Detector, Protocol):
    """A detector loaded from a model file (what ``load_detector`` gives): the service names its file,
    evaluation sets its operating point."""

    path: Path
    conf: float
    max_det: int


def _area(a: np.ndarray) -> np.ndarray:
    area: np.ndarray = np.prod(a[:, 2:] - a[:, :2], axis=1)
    return area


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas of (N, 4) and (M, 4) xyxy boxes -> (N, M)."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter: np.ndarray = np.prod(np.clip(br - tl, 0, None), axis=2)
    return inter


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes -> (N, M)."""
    inter = _intersection(a, b)
    iou: np.ndarray = inter / (_area(a)[:, None] + _area(b)[None, :] - inter + 1e-9)
    return iou


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


def box_overlap_of_smaller(a: np.ndarray) -> np.ndarray:
    """Pairwise intersection over the smaller box's area of (N, 4) xyxy boxes -> (N, N)."""
    area = _area(a)
    share: np.ndarray = _intersection(a, a) / (np.minimum(area[:, None], area[None, :]) + 1e-9)
    return share


def drop_merged(d: Detections, same_class: float = 0.8, any_class_iou: float = 0.7) -> Detections:
    """Drop boxes that duplicate a better-scored box, for counting items (strongest first).

    Per-class NMS leaves two kinds of duplicates that would inflate a count:
    two touching items of one class (two sauce tubs side by side) can also come
    out as a box spanning both, whose IoU with either is below the NMS
    threshold; and one item read as two classes (a sundae that also scores as a
    sauce tub) gives two near-identical boxes. Items on a tray are never mostly
    inside one another, so a box is a duplicate when it covers ``same_class``
    of the smaller box of a stronger same-class detection, or has an IoU of
    ``any_class_iou`` with a stronger detection of any class.
    """
    return d[merged_keep(d, same_class, any_class_iou)]


def merged_keep(d: Detections, same_class: float = 0.8, any_class_iou: float = 0.7) -> np.ndarray:
    """Indices into ``d`` of the boxes ``drop_merged`` keeps, strongest first."""
    order = np.argsort(-d.confidence, kind="stable")
    if len(d) < 2:
        return order
    s = d[order]
    same = s.class_id[:, None] == s.class_id[None, :]
    dup = ((box_overlap_of_smaller(s.xyxy) >= same_class) & same) | (box_iou(s.xyxy, s.xyxy) >= any_class_iou)
    keep = np.ones(len(s), bool)
    for i in range(1, len(s)):  # greedy, strongest first: only a kept box can make another a duplicate
        keep[i] = not (dup[i, :i] & keep[:i]).any()
    return order[keep]
