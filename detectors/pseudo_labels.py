"""Pseudo-labels: a teacher model labels the site's unlabelled photos for a student (``train --unlabelled``).

The teacher predicts with test-time augmentation (flips and two smaller
scales, ultralytics' ``augment``), which finds items one view misses. Which of
its boxes become labels is decided per class on the validation split: the
thresholds that count the most val photos exactly right
(``choose_class_conf``), so a class the teacher is unsure of needs more
confidence than one it knows. A photo where the teacher finds nothing above
them is left out rather than taught as an empty tray.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detectors.datasets.copy_paste import label_path
from detectors.detections import Detections
from detectors.evaluation.class_conf import FLOOR, choose_class_conf, counted, counts_at
from detectors.evaluation.dataset import read_label_file

TTA = True


@dataclass
class PseudoLabels:
    images: list[Path]  # the photos written with labels (links under RUN/data/images/pseudo)
    class_conf: dict[str, float]  # the thresholds chosen on the val split
    boxes: dict[str, int]  # pseudo-boxes per class
    empty: int  # photos with no box above the thresholds (left out)
    val_count_accuracy: float  # the teacher's share of val photos counted right at those thresholds
    per_image: list[int] = field(default_factory=list)


def predict_one(model: Any, photo: Path, imgsz: int) -> tuple[Detections, tuple[int, int]]:
    """The teacher's detections on one photo (decoded at the lowest threshold the chooser tries), and
    the photo's (height, width)."""
    r = model.predict(str(photo), imgsz=imgsz, conf=FLOOR, iou=0.7, max_det=100, augment=TTA, device="cpu",
                      verbose=False)[0]
    b = r.boxes
    d = Detections(b.xyxy.numpy().astype(np.float32), b.conf.numpy().astype(np.float32),
                   b.cls.numpy().astype(np.int64))
    return d, (int(r.orig_shape[0]), int(r.orig_shape[1]))


def predict(model: Any, photos: Sequence[Path], imgsz: int,
            progress: Callable[[int], None] | None = None) -> list[Detections]:
    """The teacher's detections on each photo."""
    out = []
    for p in photos:
        out.append(predict_one(model, p, imgsz)[0])
        if progress:
            progress(1)
    return out


def gt_counts(photos: Sequence[Path], n_classes: int) -> np.ndarray:
    """(photos, classes) label counts of dataset photos (``images/x.jpg`` -> ``labels/x.txt``)."""
    rows = []
    for p in photos:
        lbl = label_path(p)
        cls = read_label_file(lbl, n_classes)[1] if lbl.is_file() else np.zeros(0, np.int64)
        rows.append(np.bincount(np.asarray(cls, np.int64), minlength=n_classes)[:n_classes])
    return np.array(rows, np.int64).reshape(len(photos), n_classes)


def write_pseudo_labels(model: Any, photos: Sequence[Path], val_photos: Sequence[Path], classes: list[str],
                        out_dir: Path, imgsz: int, progress: Callable[[int], None] | None = None) -> PseudoLabels:
    """Label ``photos`` with the teacher into ``out_dir/images/pseudo`` + ``labels/pseudo``."""
    n = len(classes)
    val_dets = predict(model, val_photos, imgsz, progress)
    val_gt = gt_counts(val_photos, n)
    thr = choose_class_conf(val_dets, val_gt)
    val_acc = float((counts_at(val_dets, thr) == val_gt).all(axis=1).mean()) if len(val_gt) else float("nan")
    img_dir, lbl_dir = out_dir / "images" / "pseudo", out_dir / "labels" / "pseudo"
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    boxes: Counter[str] = Counter()
    empty = 0
    per_image = []
    for k, p in enumerate(photos):
        d, (h, w) = predict_one(model, p, imgsz)
        keep = counted(d, thr)
        if progress:
            progress(1)
        if not len(keep):
            empty += 1
            continue
        name = f"u{k:05d}_{p.stem}"
        link = img_dir / f"{name}{p.suffix.lower()}"
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(p.resolve())
        lines = []
        for (x0, y0, x1, y1), c in zip(d.xyxy[keep], d.class_id[keep]):
            lines.append(f"{int(c)} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} "
                         f"{(y1 - y0) / h:.6f}\n")
            boxes[classes[int(c)]] += 1
        (lbl_dir / f"{name}.txt").write_text("".join(lines))
        written.append(link)
        per_image.append(len(keep))
    return PseudoLabels(written, {c: round(float(t), 3) for c, t in zip(classes, thr)},
                        {c: boxes.get(c, 0) for c in classes}, empty, val_acc, per_image)
