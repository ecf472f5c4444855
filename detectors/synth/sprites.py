"""Sprites: small BGR images with a soft alpha mask, and the few operations on them.

Every painted object (a burger, a hand, the tray) is a Sprite drawn in its own
local frame, then rotated and alpha-composited. Keeping colour and coverage
together makes tight, exact bounding boxes fall out of the alpha channel.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

AA = cv2.LINE_AA


@dataclass
class Sprite:
    bgr: np.ndarray  # HxWx3 float32, 0..255
    alpha: np.ndarray  # HxW float32, 0..1

    @property
    def size(self) -> tuple[int, int]:
        return self.bgr.shape[1], self.bgr.shape[0]


class Canvas:
    """Draw the same shape into colour and coverage at once (cv2 primitives)."""

    def __init__(self, w: int, h: int):
        self.bgr = np.zeros((h, w, 3), np.float32)
        self.mask = np.zeros((h, w), np.float32)

    def _do(self, fn, color, cover: bool, *args, **kw) -> None:
        fn(self.bgr, *args, color=tuple(float(c) for c in color), lineType=AA, **kw)
        if cover:
            fn(self.mask, *args, color=1.0, lineType=AA, **kw)

    def circle(self, c, r, color, thickness=-1, cover=True) -> None:
        self._do(cv2.circle, color, cover, (int(c[0]), int(c[1])), max(1, int(r)), thickness=thickness)

    def ellipse(self, c, axes, angle, color, thickness=-1, cover=True, start=0, end=360) -> None:
        self._do(cv2.ellipse, color, cover, (int(c[0]), int(c[1])),
                 (max(1, int(axes[0])), max(1, int(axes[1]))), float(angle), start, end, thickness=thickness)

    def poly(self, pts, color, cover=True) -> None:
        pts = np.round(np.asarray(pts)).astype(np.int32).reshape(-1, 1, 2)
        fn = lambda img, p, color, lineType: cv2.fillPoly(img, [p], color, lineType)  # noqa: E731
        self._do(fn, color, cover, pts)

    def line(self, a, b, color, thickness=1, cover=False) -> None:
        self._do(cv2.line, color, cover, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), thickness=thickness)

    def rect(self, x0, y0, x1, y1, color, cover=True) -> None:
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], color, cover)

    def sprite(self) -> Sprite:
        return Sprite(self.bgr, np.clip(self.mask, 0.0, 1.0))


def rounded_rect_pts(x0: float, y0: float, x1: float, y1: float, r: float, n: int = 6) -> np.ndarray:
    """Polygon of a rounded rectangle (for fillPoly)."""
    r = min(r, (x1 - x0) / 2, (y1 - y0) / 2)
    pts = []
    for cx, cy, a0 in ((x1 - r, y0 + r, -90), (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90), (x0 + r, y0 + r, 180)):
        for k in range(n + 1):
            a = np.deg2rad(a0 + 90 * k / n)
            pts.append((cx + r * np.cos(a), cy + r * np.sin(a)))
    return np.array(pts, np.float32)


def rotate(sp: Sprite, angle_deg: float, scale: float = 1.0) -> Sprite:
    """Rotate (and scale) about the centre into a canvas large enough to hold it."""
    w, h = sp.size
    a = np.deg2rad(angle_deg)
    nw = int(np.ceil((abs(w * np.cos(a)) + abs(h * np.sin(a))) * scale)) + 2
    nh = int(np.ceil((abs(w * np.sin(a)) + abs(h * np.cos(a))) * scale)) + 2
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, scale)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    bgr = cv2.warpAffine(sp.bgr, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = cv2.warpAffine(sp.alpha, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)
    return Sprite(bgr, alpha)


def paste(dst: np.ndarray, dst_alpha: np.ndarray | None, sp: Sprite, x: int, y: int,
          opacity: float = 1.0) -> tuple[int, int, int, int] | None:
    """Alpha-composite ``sp`` with its top-left at (x, y); return the clipped box drawn."""
    H, W = dst.shape[:2]
    w, h = sp.size
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return None
    a = sp.alpha[y0 - y:y1 - y, x0 - x:x1 - x, None] * opacity
    region = dst[y0:y1, x0:x1]
    region *= 1.0 - a
    region += sp.bgr[y0 - y:y1 - y, x0 - x:x1 - x] * a
    if dst_alpha is not None:
        ra = dst_alpha[y0:y1, x0:x1]
        ra[:] = ra + a[..., 0] * (1.0 - ra)
    return x0, y0, x1, y1


def soft_shadow(alpha: np.ndarray, blur: int) -> tuple[np.ndarray, int]:
    """A blurred copy of ``alpha`` padded by the blur radius, computed once per object."""
    pad = blur + 1
    a = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    return cv2.GaussianBlur(a, (blur * 2 + 1, blur * 2 + 1), 0), pad


def darken(dst: np.ndarray, shadow: np.ndarray, x: int, y: int, strength: float) -> None:
    """Darken ``dst`` under ``shadow`` (0..1) placed with its top-left at (x, y)."""
    H, W = dst.shape[:2]
    h, w = shadow.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    dst[y0:y1, x0:x1] *= (1.0 - strength * shadow[y0 - y:y1 - y, x0 - x:x1 - x])[..., None]


def alpha_box(alpha: np.ndarray, thr: float = 0.5) -> tuple[int, int, int, int] | None:
    """Tight box (x0, y0, x1, y1), exclusive max, of alpha above ``thr``."""
    ys = np.flatnonzero((alpha > thr).any(axis=1))
    xs = np.flatnonzero((alpha > thr).any(axis=0))
    if len(xs) == 0:
        return None
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def jitter_color(rng: np.random.Generator, bgr: tuple[float, float, float], amount: float = 12.0):
    return tuple(float(np.clip(c + rng.normal(0, amount), 0, 255)) for c in bgr)


def texture(rng: np.random.Generator, sp: Sprite, amount: float, blur: int = 1) -> None:
    """Add low-contrast grain inside the sprite so flat fills look less synthetic."""
    h, w = sp.alpha.shape
    n: np.ndarray = rng.normal(0.0, amount, (h, w)).astype(np.float32)
    if blur:
        n = cv2.GaussianBlur(n, (blur * 2 + 1, blur * 2 + 1), 0)
    sp.bgr += n[..., None] * (sp.alpha[..., None] > 0)
    np.clip(sp.bgr, 0, 255, out=sp.bgr)
