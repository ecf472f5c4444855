"""Detection metrics in numpy: COCO-style AP, precision/recall, count accuracy, confusion.

Our own code rather than ultralytics' so that a model can be scored on the
appliance, where only ONNX Runtime is installed. AP follows pycocotools:
predictions are matched to ground truth greedily in confidence order (each
takes the unmatched box of its class with the highest IoU at or above the
threshold), at IoU 0.50, 0.55 ... 0.95, and AP is the mean of the
precision envelope at 101 recall points (perfect predictions score 1.0).
ultralytics integrates a linearly interpolated envelope instead
(``ultralytics_ap``), which tops out at 0.995 and reads a little higher where
precision falls off (0.02 mAP50 on heavily blurred renders); the test suite
checks both against ultralytics' own ``val``.

Class indices here are a "label space": the dataset's classes first, then
the model's classes the dataset does not have.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from detectors.detections import box_iou

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def match_predictions(pred_xyxy: np.ndarray, pred_conf: np.ndarray, pred_cls: np.ndarray,
                      gt_xyxy: np.ndarray, gt_cls: np.ndarray,
                      thresholds: np.ndarray = IOU_THRESHOLDS) -> np.ndarray:
    """(N, T) bool: prediction i is a true positive at IoU threshold t (COCO greedy matching, one image)."""
    tp = np.zeros((len(pred_cls), len(thresholds)), bool)
    if len(pred_cls) == 0 or len(gt_cls) == 0:
        return tp
    iou = box_iou(pred_xyxy.astype(np.float64), gt_xyxy.astype(np.float64))
    iou[pred_cls[:, None] != gt_cls[None, :]] = 0.0
    cand = np.nonzero(iou.max(axis=1) >= thresholds.min())[0]  # the rest can match nothing
    cand = cand[np.argsort(-pred_conf[cand], kind="stable")]
    for k, thr in enumerate(thresholds):
        taken = np.zeros(len(gt_cls), bool)
        for i in cand:
            row = np.where(taken, -1.0, iou[i])
            j = int(row.argmax())
            if row[j] >= thr:
                tp[i, k] = taken[j] = True
    return tp


def coco_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """AP of one precision/recall curve (predictions in confidence order): 101-point COCO interpolation."""
    if len(recall) == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at this recall or beyond
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    q = np.where(idx < len(recall), envelope[np.minimum(idx, len(recall) - 1)], 0.0)
    return float(q.mean())


def ultralytics_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """AP as ultralytics computes it (``compute_ap``): trapezoid over 101 points of the interpolated envelope."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.maximum.accumulate(np.concatenate(([1.0], precision, [0.0]))[::-1])[::-1]
    y = np.interp(RECALL_POINTS, mrec, mpre)
    return float(((y[1:] + y[:-1]) / 2 * np.diff(RECALL_POINTS)).sum())


ApFunction = Callable[[np.ndarray, np.ndarray], float]


def average_precision(tp: np.ndarray, conf: np.ndarray, pred_cls: np.ndarray, n_gt: np.ndarray,
                      ap_fn: ApFunction = coco_ap) -> np.ndarray:
    """(C, T) AP per class and IoU threshold over a whole dataset; NaN for a class without ground truth."""
    ap = np.full((len(n_gt), tp.shape[1]), np.nan)
    order = np.argsort(-conf, kind="mergesort")
    tp, pred_cls = tp[order], pred_cls[order]
    for c in np.nonzero(n_gt)[0]:
        hits = tp[pred_cls == c]
        tpc = np.cumsum(hits, axis=0)
        fpc = np.cumsum(~hits, axis=0)
        recall = tpc / n_gt[c]
        precision = tpc / np.maximum(tpc + fpc, 1)
        ap[c] = [ap_fn(recall[:, k], precision[:, k]) for k in range(tp.shape[1])]
    return ap


def precision_recall(tp50: np.ndarray, conf: np.ndarray, pred_cls: np.ndarray, n_gt: np.ndarray,
                     conf_thr: float | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and true positives of the detections above ``conf_thr`` (IoU 0.5;
    one threshold, or one per detection).

    Precision is NaN for a class with no such detection, recall for a class without ground truth.
    """
    keep = conf > conf_thr  # the detector keeps conf > threshold
    n = len(n_gt)
    n_pred = np.bincount(pred_cls[keep], minlength=n)[:n]
    hits = np.bincount(pred_cls[keep & tp50], minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_pred > 0, hits / n_pred, np.nan)
        recall = np.where(n_gt > 0, hits / n_gt, np.nan)
    return precision, recall, hits


def count_accuracy(pred_counts: np.ndarray, gt_counts: np.ndarray) -> tuple[float, np.ndarray]:
    """(share of images whose every class count is right, per-class share of images with that count right).

    ``pred_counts`` and ``gt_counts`` are (images, classes): what a tray verdict compares.
    """
    if len(gt_counts) == 0:
        return float("nan"), np.full(gt_counts.shape[1], np.nan)
    right = pred_counts == gt_counts
    return float(right.all(axis=1).mean()), right.mean(axis=0)


def confusion_update(matrix: np.ndarray, pred_xyxy: np.ndarray, pred_cls: np.ndarray,
                     gt_xyxy: np.ndarray, gt_cls: np.ndarray, iou_thr: float = 0.5) -> None:
    """Add one image to ``matrix`` (rows: truth, columns: prediction, last index: background).

    Boxes are paired regardless of class, highest IoU first, each at most once (IoU > ``iou_thr``);
    an unpaired truth box is a miss (column background), an unpaired prediction a false alarm (row background).
    """
    bg = matrix.shape[0] - 1
    used_p = np.zeros(len(pred_cls), bool)
    used_g = np.zeros(len(gt_cls), bool)
    if len(pred_cls) and len(gt_cls):
        iou = box_iou(gt_xyxy.astype(np.float64), pred_xyxy.astype(np.float64))
        gi, pi = np.nonzero(iou > iou_thr)
        for k in np.argsort(-iou[gi, pi], kind="stable"):
            g, p = gi[k], pi[k]
            if not (used_g[g] or used_p[p]):
                used_g[g] = used_p[p] = True
                matrix[gt_cls[g], pred_cls[p]] += 1
    np.add.at(matrix, (gt_cls[~used_g], bg), 1)
    np.add.at(matrix, (bg, pred_cls[~used_p]), 1)


class Scorer:
    """One model's predictions over a dataset, image by image; ``summary()`` gives every figure.

    ``n_dataset`` classes come first in the label space; ``labels`` names all of it.
    Predictions are the detector's output at a low confidence (for AP); the other
    figures use the detections above ``conf``, the operating threshold.
    """

    def __init__(self, labels: tuple[str, ...], n_dataset: int, conf: float | np.ndarray):
        self.labels, self.n_dataset = labels, n_dataset
        # the operating threshold of each class in the label space (one value, or a model's class_conf)
        self.thresholds = np.broadcast_to(np.asarray(conf, np.float64), (len(labels),)).copy()
        self._tp: list[np.ndarray] = []
        self._conf: list[np.ndarray] = []
        self._cls: list[np.ndarray] = []
        self.pred_counts: list[np.ndarray] = []
        self.gt_counts: list[np.ndarray] = []
        self.confusion = np.zeros((len(labels) + 1, len(labels) + 1), np.int64)

    def add(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray,
            gt_xyxy: np.ndarray, gt_cls: np.ndarray, counted: np.ndarray | None = None) -> bool:
        """Score one image (boxes in pixels, classes in the label space); True when its counts are right.

        ``counted``: a mask of the detections that count as items (default: all); counts use the
        detections above the operating threshold within it."""
        self._tp.append(match_predictions(xyxy, conf, cls, gt_xyxy, gt_cls))
        self._conf.append(conf)
        self._cls.append(cls)
        on = conf > self.thresholds[cls]
        confusion_update(self.confusion, xyxy[on], cls[on], gt_xyxy, gt_cls)
        d = self.n_dataset
        items = on if counted is None else on & counted
        pred = np.bincount(cls[items], minlength=len(self.labels))[:d]
        gt = np.bincount(gt_cls, minlength=d)[:d]
        self.pred_counts.append(pred)
        self.gt_counts.append(gt)
        return bool((pred == gt).all())

    def summary(self, ap_fn: ApFunction = coco_ap) -> dict:
        """Per-class and overall figures for the dataset's classes (JSON-ready; None where undefined)."""
        d = self.n_dataset
        tp = np.concatenate(self._tp) if self._tp else np.zeros((0, len(IOU_THRESHOLDS)), bool)
        conf = np.concatenate(self._conf) if self._conf else np.zeros(0, np.float32)
        cls = np.concatenate(self._cls) if self._cls else np.zeros(0, np.int64)
        gt_counts = np.array(self.gt_counts, np.int64).reshape(-1, d)
        pred_counts = np.array(self.pred_counts, np.int64).reshape(-1, d)
        n_gt = gt_counts.sum(axis=0)
        ap = average_precision(tp, conf, cls, n_gt, ap_fn)
        above = self.thresholds[cls]
        precision, recall, hits = precision_recall(tp[:, 0], conf, cls, n_gt, above)
        per_image, per_class = count_accuracy(pred_counts, gt_counts)
        with_gt = n_gt > 0
        n_pred = int((cls[conf > above] < d).sum())
        return {
            "per_class": {
                self.labels[c]: {"ap50": _num(ap[c, 0]), "ap50_95": _num(ap[c].mean()),
                                 "precision": _num(precision[c]), "recall": _num(recall[c]),
                                 "count_accuracy": _num(per_class[c]), "gt": int(n_gt[c])}
                for c in range(d)},
            "map50": _num(ap[with_gt, 0].mean()) if with_gt.any() else None,
            "map50_95": _num(ap[with_gt].mean()) if with_gt.any() else None,
            "precision": _num(hits.sum() / n_pred) if n_pred else None,
            "recall": _num(hits.sum() / n_gt.sum()) if n_gt.sum() else None,
            "count_accuracy": _num(per_image),
            "images": len(gt_counts),
            "confusion": {"labels": [*self.labels, "background"], "matrix": self.confusion.tolist(),
                          "rows": "truth", "columns": "prediction"},
        }


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)
