"""A confidence threshold per class, chosen for counting (``class_conf`` in a model's metadata).

A tray verdict compares counts, so one global threshold is the wrong knob: a
plate the model is sure of and a yogurt it half-sees need different ones. On
labelled photos the thresholds are chosen to count every class of as many
photos exactly right as possible, counting as the appliance counts (threshold,
then one item read twice is one item). Coordinate ascent over a grid, starting
from the global operating threshold, with ties kept nearest to it: with a few
dozen validation photos, a threshold that buys nothing should not move.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detectors.detections import Detections, merged_keep

GRID = np.round(np.arange(0.10, 0.851, 0.05), 2)  # the thresholds tried; detections must be decoded below 0.10
FLOOR = float(GRID.min())
PASSES = 2  # a second pass lets a class answer the other classes' new thresholds (cross-class duplicates)


def counted(d: Detections, thresholds: np.ndarray) -> np.ndarray:
    """Indices of the detections that count as items: above their class's threshold, duplicates dropped."""
    on = np.flatnonzero(d.confidence > thresholds[d.class_id])
    return on[merged_keep(d[on])]


def counts_at(dets: Sequence[Detections], thresholds: np.ndarray) -> np.ndarray:
    """(images, classes) counts of each image's detections at per-class ``thresholds``."""
    n = len(thresholds)
    return np.array([np.bincount(d.class_id[counted(d, thresholds)], minlength=n)[:n] for d in dets],
                    np.int64).reshape(len(dets), n)


def choose_class_conf(dets: Sequence[Detections], gt_counts: np.ndarray, start: float = 0.25,
                      grid: np.ndarray = GRID) -> np.ndarray:
    """Per-class thresholds that maximise the share of images with every class counted right.

    ``dets``: each image's detections decoded at or below ``grid.min()``; ``gt_counts``: (images,
    classes). A class without ground truth keeps ``start`` (nothing to learn it from).
    """
    n = gt_counts.shape[1]
    thr = np.full(n, float(start))
    if not len(dets):
        return thr
    has_gt = gt_counts.sum(axis=0) > 0
    for _ in range(PASSES):
        for c in np.flatnonzero(has_gt):
            best: tuple[float, float, float] | None = None
            pick = thr[c]
            for t in grid:
                thr[c] = t
                right = counts_at(dets, thr) == gt_counts
                key = (float(right.all(axis=1).mean()), float(right[:, c].mean()), -abs(float(t) - start))
                if best is None or key > best:
                    best, pick = key, float(t)
            thr[c] = pick
    return thr


def as_metadata(classes: Sequence[str], thresholds: np.ndarray) -> dict[str, float]:
    """``{class name: confidence}`` (the metadata's ``class_conf``)."""
    return {str(c): round(float(t), 3) for c, t in zip(classes, thresholds)}
