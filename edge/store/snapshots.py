"""JPEG snapshots of the check zone at each verdict, with the detected items boxed.

Privacy: only the zone crop is ever written, never a full frame. A disk-space
floor stops snapshots (not verdicts) before the disk fills.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np

from detectors.detections import Detections

log = logging.getLogger("traycheck.snapshots")


class SnapshotWriter:
    def __init__(self, root: Path, min_free_mb: float = 500.0, quality: int = 80):
        self.root = Path(root)
        self.min_free = min_free_mb * 1024 * 1024
        self.quality = quality
        self._warned = False

    def disk_ok(self) -> bool:
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free >= self.min_free

    def write(self, name: str, frame: np.ndarray, zone_box: tuple[int, int, int, int], dets: Detections,
              classes: tuple[str, ...], day: str) -> str | None:
        """Save the zone crop as ``<day>/<name>.jpg``; the path relative to the root, or None when skipped."""
        if not self.disk_ok():
            if not self._warned:
                log.warning("snapshots paused: less than %.0f MB free under %s", self.min_free / 2**20, self.root)
                self._warned = True
            return None
        self._warned = False
        x0, y0, x1, y1 = zone_box
        crop = frame[y0:y1, x0:x1].copy()
        for (a, b, c, d), k in zip((dets.xyxy - [x0, y0, x0, y0]).astype(int), dets.class_id):
            cv2.rectangle(crop, (a, b), (c, d), (0, 220, 255), 2)
            cv2.putText(crop, classes[k], (a + 2, max(12, b - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 220, 255), 1,
                        cv2.LINE_AA)
        rel = Path(day) / f"{name}.jpg"
        (self.root / day).mkdir(parents=True, exist_ok=True)
        tmp = self.root / rel.with_suffix(".tmp.jpg")
        ok = cv2.imwrite(str(tmp), crop, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return None
        tmp.replace(self.root / rel)
        return str(rel)

    def delete(self, rel_paths: list[str]) -> int:
        n = 0
        for rel in rel_paths:
            try:
                (self.root / rel).unlink()
                n += 1
            except FileNotFoundError:
                pass
        return n
