"""The check zone: the taped area of the counter where a tray is checked, as a polygon
in fractions of the frame. The pipeline keeps only detections inside it; the renderers
place trays in it. Geometry only (numpy, OpenCV), so every layer may use it."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

DEFAULT_ZONE = ((0.06, 0.08), (0.94, 0.08), (0.94, 0.92), (0.06, 0.92))  # the taped area, as fractions


class Zone:
    """A polygon in fractions of the frame; items belong to it when their box centre is inside."""

    def __init__(self, points: Sequence[tuple[float, float]] = DEFAULT_ZONE):
        pts = np.asarray(points, np.float32)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
            raise ValueError("a zone needs at least 3 [x, y] points")
        if (pts < 0).any() or (pts > 1).any():
            raise ValueError("zone points are fractions of the frame (0..1)")
        self.points = pts
        self._masks: dict[tuple[int, int], np.ndarray] = {}

    def mask(self, w: int, h: int) -> np.ndarray:
        """Boolean (h, w) mask of the zone at that resolution (cached)."""
        key = (w, h)
        if key not in self._masks:
            m = np.zeros((h, w), np.uint8)
            cv2.fillPoly(m, [np.round(self.points * [w, h]).astype(np.int32)], 1)
            self._masks[key] = m.astype(bool)
        return self._masks[key]

    def contains(self, xy: np.ndarray, w: int, h: int) -> np.ndarray:
        """Which of the (N, 2) pixel points lie in the zone (vectorised lookup in the mask)."""
        m = self.mask(w, h)
        x = np.clip(xy[:, 0].astype(int), 0, w - 1)
        y = np.clip(xy[:, 1].astype(int), 0, h - 1)
        return m[y, x]

    def bbox(self, w: int, h: int) -> tuple[int, int, int, int]:
        x0, y0 = (self.points.min(axis=0) * [w, h]).astype(int)
        x1, y1 = np.ceil(self.points.max(axis=0) * [w, h]).astype(int)
        return int(x0), int(y0), int(x1), int(y1)
