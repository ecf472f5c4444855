"""Copy-paste augmentation for small real sets: real item crops pasted onto real trays.

With a few hundred photos the detector sees each item in few places and next to
few neighbours. Pasting labelled crops (feathered at the edges, at their own
scale: a fixed camera sees every item at one size) onto free spots of other
training trays multiplies the layouts without inventing pixels. Written once
before training as extra images, so the run is reproducible.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from detectors.datasets.validate import MIN_BOX_PX
from detectors.evaluation.dataset import read_label_file

MAX_OVERLAP = 0.15  # a pasted crop may cover at most this share of an existing box (and vice versa)
Crop = tuple[int, np.ndarray, float]  # (class id, crop, width of its source photo)
Loaded = tuple[Path, np.ndarray, np.ndarray, np.ndarray]  # (photo, image, boxes in pixels, class ids)


def _read_labels(lbl: Path, w: int, h: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes in pixels and class ids of a YOLO label file (none when the photo has no file)."""
    if not lbl.is_file():
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    xyxy, ids = read_label_file(lbl, n_classes)
    return (np.asarray(xyxy, np.float32).reshape(-1, 4) * np.array([w, h, w, h], np.float32)), np.asarray(ids, np.int64)


def _overlap(box: np.ndarray, boxes: np.ndarray) -> float:
    """Largest share of either box that the other covers."""
    if len(boxes) == 0:
        return 0.0
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    a = (box[2] - box[0]) * (box[3] - box[1])
    b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return float(np.max(np.maximum(inter / max(a, 1e-6), inter / np.maximum(b, 1e-6))))


def label_path(img: Path) -> Path:
    parts = list(img.parts)
    i = len(parts) - 1 - parts[::-1].index("images")
    return Path(*parts[:i], "labels", *parts[i + 1:]).with_suffix(".txt")


def write_copy_paste(images: list[Path], out_dir: Path, n: int, n_classes: int, seed: int = 0, max_paste: int = 3,
                     progress: Callable[[int], None] | None = None) -> list[Path]:
    """Write ``n`` augmented images (+ YOLO labels) under ``out_dir/images|labels/cp``; their paths."""
    rng = np.random.default_rng(seed)
    loaded, crops = _load(images, n_classes)
    out_img, out_lbl = out_dir / "images" / "cp", out_dir / "labels" / "cp"
    out_img.mkdir(parents=True, exist_ok=True)
    out_lbl.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if not loaded or not crops:
        return written
    # rare classes are pasted more often: pick a class uniformly, then one of its crops
    by_class: dict[int, list[int]] = {}
    for i, (k, _, _) in enumerate(crops):
        by_class.setdefault(k, []).append(i)
    for j in range(n):
        _, base, xyxy, ids = loaded[int(rng.integers(len(loaded)))]
        img, boxes, labels = base.copy(), list(xyxy), list(ids)
        for _ in range(int(rng.integers(1, max_paste + 1))):
            _paste_one(img, boxes, labels, crops, by_class, rng)
        name = f"cp_{j:05d}"
        cv2.imwrite(str(out_img / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        (out_lbl / f"{name}.txt").write_text(_label_lines(labels, boxes, img.shape[1], img.shape[0]))
        written.append(out_img / f"{name}.jpg")
        if progress:
            progress(1)
    return written


def _load(images: list[Path], n_classes: int) -> tuple[list[Loaded], list[Crop]]:
    """The readable photos with their boxes, and the crops of their boxes large enough to paste."""
    crops: list[Crop] = []
    loaded: list[Loaded] = []
    for p in images:
        img = cv2.imread(str(p))
        if img is None:
            continue
        h, w = img.shape[:2]
        xyxy, ids = _read_labels(label_path(p), w, h, n_classes)
        loaded.append((p, img, xyxy, ids))
        for b, k in zip(xyxy.round().astype(int), ids):
            x0, y0, x1, y1 = np.clip(b, 0, [w, h, w, h])
            if x1 - x0 >= MIN_BOX_PX * 4 and y1 - y0 >= MIN_BOX_PX * 4:
                crops.append((int(k), img[y0:y1, x0:x1].copy(), float(w)))
    return loaded, crops


def _paste_one(img: np.ndarray, boxes: list, labels: list, crops: list[Crop], by_class: dict[int, list[int]],
               rng: np.random.Generator) -> None:
    """Paste one random crop (random flips) on a free spot of ``img`` in place; skip it if none is found."""
    h, w = img.shape[:2]
    cls_ids = sorted(by_class)
    k = cls_ids[int(rng.integers(len(cls_ids)))]
    _, crop, src_w = crops[by_class[k][int(rng.integers(len(by_class[k])))]]
    s = w / src_w  # same camera: keep the item's size relative to the frame
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1]
    ch, cw = max(4, int(crop.shape[0] * s)), max(4, int(crop.shape[1] * s))
    if ch >= h or cw >= w:
        return
    crop = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA)
    for _try in range(20):
        x, y = int(rng.integers(0, w - cw)), int(rng.integers(0, h - ch))
        box = np.array([x, y, x + cw, y + ch], np.float32)
        if _overlap(box, np.array(boxes, np.float32).reshape(-1, 4)) <= MAX_OVERLAP:
            break
    else:
        return
    mask: np.ndarray = np.zeros((ch, cw), np.float32)
    pad = max(2, min(ch, cw) // 12)
    mask[pad:ch - pad, pad:cw - pad] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), pad / 2 + 0.5)[..., None]
    roi = img[y:y + ch, x:x + cw].astype(np.float32)
    img[y:y + ch, x:x + cw] = (roi * (1 - mask) + crop.astype(np.float32) * mask).astype(np.uint8)
    boxes.append(box)
    labels.append(k)


def _label_lines(labels: list, boxes: list, w: int, h: int) -> str:
    """YOLO label text (class cx cy w h, normalised) of pixel boxes on a ``w`` x ``h`` image."""
    b = np.array(boxes, np.float32).reshape(-1, 4)
    return "".join(f"{int(c)} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} "
                   f"{(y1 - y0) / h:.6f}\n" for c, (x0, y0, x1, y1) in zip(labels, b))
