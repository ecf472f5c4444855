"""Two models on the same labelled photos: every figure of ``traycheck model compare``.

Each model runs once per photo at a low confidence (0.001, as ultralytics'
``val`` does) so AP sees the whole precision/recall curve; the figures at the
operating threshold are that output filtered at ``conf`` (exactly what the
detector gives at ``conf``: NMS only lets a stronger box suppress a weaker
one), or, for a model whose metadata has ``class_conf``, at its own threshold
per class, what the appliance counts at; its count accuracy at the global
``conf`` is given beside (``count_accuracy_at_conf``). Speed is timed in a
second call per photo at the operating threshold, the models alternating which
goes first, after a warm-up.
"""
from __future__ import annotations

import time
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from detectors.detections import ModelDetector, merged_keep
from detectors.evaluation.dataset import LabelledSet, load_labelled
from detectors.evaluation.metrics import Scorer
from detectors.loader import load_detector
from detectors.model_info import resolve_model
from edge.errors import InvalidInput, TrayCheckError

AP_CONF = 0.001  # as ultralytics val: AP needs the low-confidence tail of the curve
AP_MAX_DET = 300
WARMUP = 3
# ``progress(label, total)``: a context manager yielding ``advance(n)`` (edge.core.progress_bar)
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


@dataclass
class WrongImage:
    """A photo a model counted wrong: its detections at the operating threshold (label space)."""

    index: int  # into LabelledSet.images
    xyxy: np.ndarray
    conf: np.ndarray
    cls: np.ndarray
    pred_counts: np.ndarray
    gt_counts: np.ndarray


@dataclass
class ModelRun:
    """One model under comparison: its detector, class mapping, scores and timings."""

    ref: str  # as the user named it
    name: str  # shown in tables and the report
    path: Path
    detector: ModelDetector
    labels: tuple[str, ...]  # dataset classes, then the model's classes the dataset lacks
    to_label: np.ndarray  # model class id -> label index
    scorer: Scorer
    thresholds: np.ndarray  # operating threshold per label: the model's class_conf, else the global one
    class_conf: dict[str, float] | None  # as the model's metadata gives it
    times_ms: list[float] = field(default_factory=list)
    right_at_conf: list[bool] = field(default_factory=list)  # counts right at the one global threshold
    wrong: list[WrongImage] = field(default_factory=list)


@dataclass
class Comparison:
    result: dict  # the JSON object of ``--json``
    data: LabelledSet
    runs: list[ModelRun]


def _load(ref: str, which: str, threads: int):
    try:
        path = resolve_model(ref)
        det = load_detector(path, threads=threads, conf=AP_CONF)
    except TrayCheckError as exc:
        raise InvalidInput(f"model {which} ({ref}): {exc}") from None
    det.max_det = AP_MAX_DET  # both backends read it per call
    return path, det


def _mapping(model_classes: tuple[str, ...], names: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    """Label space (dataset names + the model's extra names) and model id -> label index, matched by name."""
    extra = tuple(c for c in model_classes if c not in names)
    labels = names + extra
    index = {n: i for i, n in enumerate(labels)}
    return labels, np.array([index[c] for c in model_classes], np.int64)


@contextmanager
def operating(det: ModelDetector, conf: float) -> Iterator[None]:
    """The detector as the appliance runs it (threshold ``conf``, 100 boxes) for the duration."""
    old = det.conf, det.max_det
    det.conf, det.max_det = conf, 100
    try:
        yield
    finally:
        det.conf, det.max_det = old


def read_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InvalidInput(f"image {path}: OpenCV cannot read it")
    return img


def compare_models(ref_a: str, ref_b: str, dataset: Path, split: str = "val", conf: float = 0.25,
                   threads: int = 2, progress: Progress | None = None) -> Comparison:
    """Score both models on the dataset's labelled photos of ``split``.

    ``progress(label, total)`` is a context manager yielding ``advance(n)`` (edge.core.progress_bar).
    """
    if not 0.0 < conf < 1.0:
        raise InvalidInput(f"--conf {conf}: must be between 0 and 1")
    loaded = [_load(ref_a, "A", threads), _load(ref_b, "B", threads)]
    data = load_labelled(dataset, split, fallback_names=tuple(loaded[0][1].classes))
    names = [ref_a, ref_b] if ref_a != ref_b else [f"{ref_a} (A)", f"{ref_b} (B)"]
    runs = []
    for ref, name, (path, det) in zip((ref_a, ref_b), names, loaded):
        labels, to_label = _mapping(tuple(det.classes), data.names)
        thresholds, class_conf = _thresholds(det, labels, to_label, conf)
        runs.append(ModelRun(ref, name, path, det, labels, to_label, Scorer(labels, len(data.names), thresholds),
                             thresholds, class_conf))

    first = read_image(data.images[0].path)
    for run in runs:
        run.detector.detect(first)
        with operating(run.detector, conf):
            for _ in range(WARMUP):
                run.detector.detect(first)

    ctx = progress(f"Scoring {len(data.images)} photos", len(data.images)) if progress else _no_progress()
    with ctx as advance:
        for i, item in enumerate(data.images):
            img = first if i == 0 else read_image(item.path)
            h, w = img.shape[:2]
            gt_xyxy = item.boxes * np.array([w, h, w, h], np.float32)
            for run in runs:
                _score(run, i, img, gt_xyxy, item.classes, conf)
            for run in (runs if i % 2 == 0 else runs[::-1]):
                with operating(run.detector, conf):
                    t0 = time.perf_counter()
                    run.detector.detect(img)
                    run.times_ms.append((time.perf_counter() - t0) * 1000)
            advance(1)
    return Comparison(_result(data, split, conf, threads, runs), data, runs)


def _thresholds(det: ModelDetector, labels: tuple[str, ...], to_label: np.ndarray,
                conf: float) -> tuple[np.ndarray, dict[str, float] | None]:
    """The operating threshold of each label for this model: its class_conf (metadata) where it has one,
    else ``conf``; and the class_conf as named in its metadata (None without)."""
    thresholds = np.full(len(labels), conf, np.float64)
    per_class = getattr(det, "class_conf", None)
    if per_class is None:
        return thresholds, None
    thresholds[to_label] = per_class
    return thresholds, {c: round(float(t), 3) for c, t in zip(det.classes, per_class)}


def _items(d, cls: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Mask of the detections that count as items at per-label ``thresholds``, as the appliance counts:
    one item read twice (two classes, or a box over two) is one item."""
    on = d.confidence > thresholds[cls]
    items = np.zeros(len(d), bool)
    items[np.flatnonzero(on)[merged_keep(d[on])]] = True
    return items


def _score(run: ModelRun, i: int, img: np.ndarray, gt_xyxy: np.ndarray, gt_cls: np.ndarray, conf: float) -> None:
    d = run.detector.detect(img)
    cls = run.to_label[d.class_id]
    items = _items(d, cls, run.thresholds)
    right = run.scorer.add(d.xyxy, d.confidence, cls, gt_xyxy, gt_cls, counted=items)
    n = run.scorer.n_dataset
    at_conf = np.bincount(cls[_items(d, cls, np.full(len(run.labels), conf))], minlength=len(run.labels))[:n]
    run.right_at_conf.append(bool((at_conf == run.scorer.gt_counts[-1]).all()))
    if not right:
        on = items
        run.wrong.append(WrongImage(i, d.xyxy[on], d.confidence[on], cls[on],
                                    run.scorer.pred_counts[-1], run.scorer.gt_counts[-1]))


@contextmanager
def _no_progress() -> Iterator[Callable[[int], None]]:
    def advance(n: int = 1) -> None:
        pass

    yield advance


def _result(data: LabelledSet, split: str, conf: float, threads: int, runs: list[ModelRun]) -> dict:
    out: dict = {"dataset": data.source, "split": split, "class_names_from": data.names_from,
                 "images": len(data.images), "unlabelled_skipped": data.unlabelled,
                 "conf": conf, "iou": 0.5, "ap_conf": AP_CONF, "threads": threads}
    for key, run in zip(("a", "b"), runs):
        s = run.scorer.summary()
        model_classes = set(run.detector.classes)
        for name, row in s["per_class"].items():
            row["in_model"] = name in model_classes
        out[key] = {"model": run.name, "file": str(run.path), "classes": list(run.detector.classes),
                    **s, "class_conf": run.class_conf,
                    "count_accuracy_at_conf": round(float(np.mean(run.right_at_conf)), 4) if run.right_at_conf
                    else None, "ms_per_frame": round(float(np.median(run.times_ms)), 2),
                    "wrong_count_images": len(run.wrong)}
    return out
