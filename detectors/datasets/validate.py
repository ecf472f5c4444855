"""Check each labelled image against its pixels: readable, complete, boxes inside and not degenerate.

Problems are reported and skipped, never raised: a real export always holds a
few broken files, and one of them must not cost the user the other 500.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.datasets.records import LabelledImage, Problem

EDGE_TOLERANCE = 0.01  # a box may overshoot the image by 1 % of its size (labelling tools round): clipped
MIN_BOX_PX = 2.0


@dataclass
class CheckedImage:
    """A readable image with its boxes in pixels of this file, and what grouping needs."""

    item: LabelledImage
    data: bytes
    sha1: str
    width: int
    height: int
    grey: np.ndarray  # small greyscale thumbnail (for perceptual hashing and similarity)


def truncated(data: bytes, suffix: str) -> bool:
    """A JPEG must end with its EOI marker, a PNG with its IEND chunk (a cut download decodes as grey)."""
    if suffix in (".jpg", ".jpeg"):
        return b"\xff\xd9" not in data[-1024:]
    if suffix == ".png":
        return b"IEND" not in data[-64:]
    return False


def check_image(item: LabelledImage, problems: list[Problem]) -> CheckedImage | None:
    """Decode and check one image and its boxes; None (with a problem) when the image is unusable."""
    path = Path(item.path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(str(path), f"unreadable ({exc.strerror})", True))
        return None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE) if data else None
    if img is not None and truncated(data, path.suffix.lower()):
        problems.append(Problem(str(path), "truncated image file", True))
        return None
    if img is None:
        problems.append(Problem(str(path), "truncated image file" if data[:2] == b"\xff\xd8" and
                                truncated(data, ".jpg") else "not a decodable image", True))
        return None
    h, w = img.shape[:2]
    xyxy = item.xyxy.copy()
    if item.normalized:
        xyxy *= np.array([w, h, w, h], np.float32)
    elif item.size and item.size != (w, h):  # labelled at another size, resized since: follow the pixels
        sx, sy = w / item.size[0], h / item.size[1]
        xyxy *= np.array([sx, sy, sx, sy], np.float32)
    keep = []
    for i, (box, name) in enumerate(zip(xyxy, item.names)):
        x0, y0, x1, y1 = box
        tx, ty = EDGE_TOLERANCE * w, EDGE_TOLERANCE * h
        if x0 < -tx or y0 < -ty or x1 > w + tx or y1 > h + ty:
            problems.append(Problem(str(path), f"box {i + 1} ({name}) outside the {w}x{h} image: "
                                               f"{[round(float(v), 1) for v in box]}"))
            continue
        box[:] = np.clip(box, 0, [w, h, w, h])
        if box[2] - box[0] < MIN_BOX_PX or box[3] - box[1] < MIN_BOX_PX:
            problems.append(Problem(str(path), f"box {i + 1} ({name}) degenerate: "
                                               f"{box[2] - box[0]:.1f}x{box[3] - box[1]:.1f} px"))
            continue
        keep.append(i)
    labelled = LabelledImage(path, xyxy[keep], [item.names[i] for i in keep], (w, h))
    grey = cv2.resize(img, (64, 48), interpolation=cv2.INTER_AREA)
    return CheckedImage(labelled, data, hashlib.sha1(data).hexdigest(), w, h, grey)
