"""The cheap gate that decides when the detector must run (the zone is ``detectors.zone``).

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

from dataclasses import dataclass

import cv2
import numpy as np

from detectors.zone import Zone

SMALL = (80, 60)


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
        # grey first, then the 8x8 means: the same thumbnail (both steps are linear; at most one grey
        # level of rounding apart) for half the time of averaging three channels
        grey = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), SMALL, interpolation=cv2.INTER_AREA)
        grey = grey.astype(np.float32)
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
