"""The check zone and the cheap gate that decides when the detector must run.

Runs on every frame at 80x60: a grey thumbnail normalised by the median
brightness of the counter outside the zone (so lamp flicker and auto-gain do not
look like presence), compared with the previous thumbnail after removing the
frame-to-frame gain (motion) and with a background model of the empty station
(presence). The motion threshold sits above what a low-bitrate H.264 stream
does to a still scene in dim light (the codec keeps refining flat areas for
about a second after a big change); a tray or a hand changes far more. An idle
station costs a resize and a few small array operations per frame.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_ZONE = ((0.06, 0.08), (0.94, 0.08), (0.94, 0.92), (0.06, 0.92))  # the taped area, as fractions
SMALL = (80, 60)


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
        inside: np.ndarray = m[y, x]
        return inside

    def bbox(self, w: int, h: int) -> tuple[int, int, int, int]:
        x0, y0 = (self.points.min(axis=0) * [w, h]).astype(int)
        x1, y1 = np.ceil(self.points.max(axis=0) * [w, h]).astype(int)
        return int(x0), int(y0), int(x1), int(y1)


@dataclass(frozen=True)
class GateReading:
    motion: float  # share of zone pixels that changed since the previous frame
    presence: float  # share of zone pixels that differ from the empty station

    def active(self, motion_thr: float, presence_thr: float) -> bool:
        return self.motion > motion_thr or self.presence > presence_thr


class Gate:
    def __init__(self, zone: Zone, motion_delta: float = 0.12, presence_delta: float = 0.10,
                 bg_rate: float = 0.05):
        self.zone = zone
        self.motion_delta, self.presence_delta, self.bg_rate = motion_delta, presence_delta, bg_rate
        self.inside = zone.mask(*SMALL)
        self.outside = ~self.inside
        self._prev: np.ndarray | None = None
        self.background: np.ndarray | None = None

    def _thumb(self, frame: np.ndarray) -> np.ndarray:
        small = cv2.resize(frame, SMALL, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        ref = float(np.median(grey[self.outside] if self.outside.any() else grey))
        return grey / max(ref, 1.0)

    def update(self, frame: np.ndarray, station_empty: bool) -> GateReading:
        """Score one frame; learn the background while the station is known to be empty and still."""
        g = self._thumb(frame)
        if self._prev is None:
            self._prev = g
        if self.background is None:
            self.background = g.copy()
        gain = float(np.median(g / np.maximum(self._prev, 1e-3)))  # flicker between the two frames
        motion = float((np.abs(g - gain * self._prev)[self.inside] > self.motion_delta).mean())
        presence = float((np.abs(g - self.background)[self.inside] > self.presence_delta).mean())
        self._prev = g
        if station_empty and motion < 0.01:
            cv2.accumulateWeighted(g, self.background, self.bg_rate)
        return GateReading(motion, presence)
