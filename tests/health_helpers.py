"""Frames for the camera health tests: a rendered station (real renderer, camera noise on)
and the faults made from it - covered, darkened, overexposed, blurred, shifted, repeated."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from detectors.synth.scenario import parse_scenario
from detectors.synth.shift import ShiftRenderer
from detectors.synth.video import VideoWriter

STATION = """\
name: health-station
seed: 11
camera: {noise: 0.02, jpeg_quality: 80}
trays:
  - at: 8.0
    dwell: 4.0
    order: {id: "2001", items: [{sku: BURGER_MEAL, qty: 1}], sent: -2.0}
    hands: 2
"""
FPS = 15


@lru_cache(maxsize=1)
def renderer() -> ShiftRenderer:
    return ShiftRenderer(parse_scenario(STATION))


@lru_cache(maxsize=100)
def idle(i: int) -> np.ndarray:
    """Frame ``i`` of the empty station (each with its own noise draw); 0 <= i < 100."""
    assert i < 100
    return renderer().frame(i)


def with_tray(i: int) -> np.ndarray:
    """A frame while the tray slides in, rests under hands and leaves (0 <= i < 90)."""
    return renderer().frame(8 * FPS + 2 * i)


def _noise(img: np.ndarray, seed: int, sigma: float = 5.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def covered(img: np.ndarray, share: float = 0.9, seed: int = 0) -> np.ndarray:
    """Something flat (a stack of trays, a cloth) over ``share`` of the view, from the left."""
    out = img.copy()
    out[:, : int(img.shape[1] * share)] = (60, 70, 80)
    return _noise(out, seed)


def darkened(img: np.ndarray, gain: float = 0.4, seed: int = 0) -> np.ndarray:
    return _noise((img.astype(np.float32) * gain).astype(np.uint8), seed, 3.0)


def brightened(img: np.ndarray, gain: float = 2.0, seed: int = 0) -> np.ndarray:
    return _noise(np.clip(img.astype(np.float32) * gain, 0, 255).astype(np.uint8), seed, 3.0)


def blurred(img: np.ndarray, sigma: float = 3.0, seed: int = 0) -> np.ndarray:
    return _noise(cv2.GaussianBlur(img, (0, 0), sigma), seed, 4.0)


def shifted(img: np.ndarray, dx: float = 0.1, dy: float = 0.05, angle: float = 0.0) -> np.ndarray:
    """The camera knocked: the view moved by fractions of the frame (and turned by ``angle`` degrees)."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += (dx * w, dy * h)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def write_fault_shift(folder: Path, cover_from: float, cover_to: float, end: float, kind: str = "cover") -> Path:
    """A shift folder (H.264 video, no orders) of the empty station with the view covered (``kind``
    cover) or the picture frozen (freeze: one frame repeated) between ``cover_from`` and
    ``cover_to`` seconds; every other frame has its own noise."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pos.jsonl").write_text("")
    with VideoWriter(folder / "video.mp4", 640, 480, FPS) as vw:
        for i in range(int(end * FPS)):
            f = idle(i % 100)
            if cover_from <= i / FPS < cover_to:
                f = covered(f, 0.9, seed=i) if kind == "cover" else idle(7)
            vw.write(f)
    return folder
