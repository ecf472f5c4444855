"""JPEG snapshots of the check zone at each verdict, and the detector's boxes on them.

The file is the clean zone crop: it is what a labelling tool needs when the
trays are exported to teach the detector (``traycheck data export``). The boxes
go to the database (``trays.boxes``, see :func:`zone_boxes`) and the dashboard
draws them when it serves the image (:func:`annotated_jpeg`). Snapshots written
before schema 3 have the boxes drawn into the file and no ``boxes`` row; they are
served as they are.

Privacy: only the zone crop is ever written, never a full frame. A disk-space
floor stops snapshots (not verdicts) before the disk fills.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np

from detectors.detections import Detections

log = logging.getLogger("traycheck.snapshots")
BOXES_FORMAT = 1  # version of the trays.boxes JSON


def zone_boxes(dets: Detections, zone_box: tuple[int, int, int, int], classes: tuple[str, ...],
               model: str | None = None) -> dict:
    """The detections in the crop's pixels, with the class names of the model that made them
    (models change; an index alone would not say which item it meant)."""
    x0, y0, x1, y1 = zone_box
    w, h = x1 - x0, y1 - y0
    boxes = []
    for (a, b, c, d), k, conf in zip(dets.xyxy.tolist(), dets.class_id.tolist(), dets.confidence.tolist()):
        a, c = (min(max(v - x0, 0.0), w) for v in (a, c))
        b, d = (min(max(v - y0, 0.0), h) for v in (b, d))
        if c > a and d > b:
            boxes.append([round(a, 1), round(b, 1), round(c, 1), round(d, 1), int(k), round(conf, 3)])
    return {"format": BOXES_FORMAT, "model": model, "classes": list(classes), "size": [w, h], "boxes": boxes}


def draw_boxes(img: np.ndarray, boxes: dict) -> np.ndarray:
    """Draw stored boxes (``zone_boxes``) with their class names onto a copy of the crop."""
    out = img.copy()
    names = boxes.get("classes", [])
    for a, b, c, d, k, _conf in boxes.get("boxes", []):
        a, b, c, d = int(a), int(b), int(c), int(d)
        cv2.rectangle(out, (a, b), (c, d), (0, 220, 255), 2)
        label = names[k] if 0 <= k < len(names) else str(k)
        cv2.putText(out, label, (a + 2, max(12, b - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 220, 255), 1,
                    cv2.LINE_AA)
    return out


def annotated_jpeg(path: Path, boxes: dict, quality: int = 80) -> bytes | None:
    """The snapshot file with its boxes drawn, as JPEG bytes; None when the file cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return None
    ok, buf = cv2.imencode(".jpg", draw_boxes(img, boxes), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else None


class SnapshotWriter:
    def __init__(self, root: Path, min_free_mb: float = 500.0, quality: int = 80):
        self.root = Path(root)
        self.min_free = min_free_mb * 1024 * 1024
        self.quality = quality
        self._warned = False
        self._failing = False  # the last write failed (logged once per streak)

    def disk_ok(self) -> bool:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return shutil.disk_usage(self.root).free >= self.min_free
        except OSError:
            return True  # let the write try, fail and say why

    def write(self, name: str, frame: np.ndarray, zone_box: tuple[int, int, int, int], day: str) -> str | None:
        """Save the clean zone crop as ``<day>/<name>.jpg``; the path relative to the root, or None when
        skipped."""
        if not self.disk_ok():
            if not self._warned:
                log.warning("snapshots paused: less than %.0f MB free under %s", self.min_free / 2**20, self.root)
                self._warned = True
            return None
        self._warned = False
        x0, y0, x1, y1 = zone_box
        crop = frame[y0:y1, x0:x1]
        rel = Path(day) / f"{name}.jpg"
        tmp = self.root / rel.with_suffix(".tmp.jpg")
        try:
            (self.root / day).mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(tmp), crop, [cv2.IMWRITE_JPEG_QUALITY, self.quality]):
                raise OSError(f"could not write {tmp}")
            tmp.replace(self.root / rel)
        except (OSError, cv2.error) as exc:  # a full or read-only disk: the verdict goes on without its picture
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)  # a half-written file must not eat what space is left
            if not self._failing:
                log.warning("snapshots not written under %s (%s): verdicts are stored without them until "
                            "a snapshot can be written again", self.root, exc)
                self._failing = True
            return None
        if self._failing:
            log.info("snapshots are written again under %s", self.root)
            self._failing = False
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
