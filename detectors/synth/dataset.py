"""A YOLO-format training set of random trays (``traycheck synth dataset``).

Each image is a random tray (0-8 items, ticket, clutter, hands, camera
degradations, the tray at rest or part-way in or out of view) drawn from
``rng([seed, i])``: image ``i`` of a seed is the same whatever N is.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import yaml

from detectors.classes import CLASSES
from detectors.synth import props
from detectors.synth.camera import degrade
from detectors.synth.layout import build_layout
from detectors.synth.scenario_schema import Camera
from detectors.synth.scene import Layer, compose, hand_layer

CONFUSABLE = [("burger", "cheeseburger"), ("chicken_sandwich", "wrap")]
MIN_VISIBLE = 0.5  # keep a label when at least half of the item is in view (not cut off, not under a hand)


def random_classes(rng: np.random.Generator) -> list[str]:
    n = int(rng.choice(np.arange(9), p=[0.03, 0.06, 0.1, 0.12, 0.13, 0.14, 0.14, 0.14, 0.14]))
    out = []
    if n >= 2 and rng.random() < 0.4:
        out += list(CONFUSABLE[int(rng.integers(0, 2))])
    while len(out) < n:
        out.append(CLASSES[int(rng.integers(0, len(CLASSES)))])
    return out[:n]


def random_camera(rng: np.random.Generator) -> Camera:
    return Camera(
        noise=float(rng.uniform(0, 0.08)) if rng.random() < 0.4 else 0.0,
        blur=int(rng.integers(1, 4)) if rng.random() < 0.35 else 0,
        brightness=float(rng.uniform(0.55, 1.45)),
        jpeg_quality=int(rng.integers(25, 95)) if rng.random() < 0.3 else 0,
    )


def render_sample(seed: int, i: int, w: int = 640, h: int = 480) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One random training image: (uint8 BGR, boxes xyxy in pixels, class ids)."""
    rng = np.random.default_rng([seed, i])
    bg = props.background(rng, w, h)
    base = min(w / 640, h / 480)
    scale = base * float(rng.uniform(0.9, 1.1))
    placements = []
    xyxy = np.zeros((0, 4), np.float32)
    ids = np.zeros(0, np.int64)
    if rng.random() > 0.03:  # a few empty counters
        layout = build_layout(rng, random_classes(rng), str(rng.choice(["qr", "qr", "none", "damaged"])),
                              str(int(rng.integers(1, 99999))), int(rng.integers(0, 4)), scale)
        tray = Layer.of(layout.render(), scale, 6, 0.45)
        tw, th = tray.sprite.size
        if rng.random() < 0.7:  # resting in the zone
            x = int((w - tw) / 2 + rng.uniform(-40, 40) * base)
        else:  # sliding in or out
            x = int(rng.uniform(-0.75 * tw, w - 0.25 * tw))
        y = int((h - th) / 2 + rng.uniform(-30, 30) * base)
        placements.append((tray, x, y))
        cover = np.zeros((h, w), np.float32)  # where hands hide the tray
        for k in range(int(rng.choice([0, 0, 1, 1, 2]))):
            layer, hw, hh = hand_layer(rng, scale, bool(rng.random() < 0.5))
            hx, hy = int(x + rng.uniform(0, tw) - hw / 2), int(y + rng.uniform(-0.3, 0.9) * th - hh / 2)
            placements.append((layer, hx, hy))
            _cover(cover, layer.sprite.alpha, hx, hy)
        boxes, cls = layout.boxes()
        boxes = boxes + np.array([x, y, x, y], np.float32)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        visible = np.array([_visible(p.sprite.alpha, x + p.x, y + p.y, cover) for p in layout.items])
        keep = visible >= MIN_VISIBLE if len(visible) else np.zeros(0, bool)
        xyxy, ids = boxes[keep], cls[keep]
    img = degrade(compose(bg, placements), random_camera(rng), rng)
    return img, xyxy, ids


def _window(shape: tuple[int, int], x: int, y: int, H: int, W: int):
    h, w = shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def _cover(cover: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    win = _window(alpha.shape, x, y, *cover.shape)
    if win:
        x0, y0, x1, y1 = win
        np.maximum(cover[y0:y1, x0:x1], alpha[y0 - y:y1 - y, x0 - x:x1 - x], out=cover[y0:y1, x0:x1])


def _visible(alpha: np.ndarray, x: int, y: int, cover: np.ndarray) -> float:
    """Share of an item (alpha at frame position x, y) inside the frame and not under a hand."""
    total = float(alpha.sum())
    win = _window(alpha.shape, x, y, *cover.shape)
    if not win or total == 0:
        return 0.0
    x0, y0, x1, y1 = win
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    return float((a * (1.0 - cover[y0:y1, x0:x1])).sum()) / total


def yolo_label_lines(xyxy: np.ndarray, ids: np.ndarray, w: int, h: int) -> str:
    cx = (xyxy[:, 0] + xyxy[:, 2]) / 2 / w
    cy = (xyxy[:, 1] + xyxy[:, 3]) / 2 / h
    bw = (xyxy[:, 2] - xyxy[:, 0]) / w
    bh = (xyxy[:, 3] - xyxy[:, 1]) / h
    return "".join(f"{c} {a:.6f} {b:.6f} {d:.6f} {e:.6f}\n" for c, a, b, d, e in zip(ids, cx, cy, bw, bh))


def write_dataset(out: Path, n: int, seed: int, val_fraction: float = 0.1,
                  progress: Callable[[int], None] | None = None) -> Path:
    """Write N images + labels split into train/val and a data.yaml ultralytics reads as is."""
    out = Path(out).resolve()
    n_val = int(round(n * val_fraction))
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        split = "val" if i >= n - n_val else "train"
        img, xyxy, ids = render_sample(seed, i)
        name = f"{seed}_{i:06d}"
        cv2.imwrite(str(out / "images" / split / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        (out / "labels" / split / f"{name}.txt").write_text(yolo_label_lines(xyxy, ids, img.shape[1], img.shape[0]))
        if progress:
            progress(1)
    data = {"path": str(out), "train": "images/train", "val": "images/val",
            "names": {i: c for i, c in enumerate(CLASSES)}, "seed": seed, "n": n}
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return out / "data.yaml"
