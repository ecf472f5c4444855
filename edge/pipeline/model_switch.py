"""The detector and menu a camera checks with, and a switch to others (SIGHUP, ``model install``)
that waits for a frame where it is safe."""
from __future__ import annotations

import logging
import threading

from detectors.detections import Detector
from orders.menu import Menu

log = logging.getLogger("traycheck.pipeline")


class ModelSwitch:
    """``request`` comes from another thread; ``apply`` runs on the camera's own, between frames.

    Same class list: the switch takes the next frame and trays in view keep their state. Another
    class list: the tracker's count vectors and the tray's counts would mean other classes, so the
    switch waits until the station is empty; no tray loses its verdict either way."""

    def __init__(self, camera: str, detector: Detector, menu: Menu):
        self.camera, self.detector, self.menu = camera, detector, menu
        self.classes: tuple[str, ...] = tuple(detector.classes)
        self.lookalikes: tuple[tuple[str, str], ...] = tuple(detector.lookalikes)  # the model's, switched with it
        self._next: tuple[Detector, Menu] | None = None
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        return self._next is not None

    def request(self, detector: Detector, menu: Menu) -> None:
        with self._lock:
            self._next = (detector, menu)

    def apply(self, station_empty: bool) -> bool:
        """Take a waiting switch if it may go now; True when the class list changed (the caller
        starts its count vectors afresh)."""
        if self._next is None:  # (every frame: no lock unless a switch waits)
            return False
        with self._lock:
            if self._next is None:
                return False
            detector, menu = self._next
            same = tuple(detector.classes) == tuple(self.detector.classes)
            if not same and not station_empty:
                return False
            self._next = None
        changed, self.detector, self.menu = detector is not self.detector, detector, menu
        self.classes, self.lookalikes = tuple(detector.classes), tuple(detector.lookalikes)
        if changed:
            log.info("%s: now detecting with %s", self.camera, getattr(detector, "path", detector))
        return not same
