"""Read the order number from the QR code of the printed ticket on the tray.

Tried on the zone crop of a few frames while the tray rests: first OpenCV's
classic detector on the crop, then the ArUco-based one on a 2x upscale, which
reads the small, slightly blurred codes a ceiling camera sees.
"""
from __future__ import annotations

import cv2
import numpy as np


class TicketReader:
    def __init__(self) -> None:
        self._plain = cv2.QRCodeDetector()
        self._aruco = cv2.QRCodeDetectorAruco()

    def read(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> str | None:
        """The decoded text of a QR code inside ``box`` of ``frame``, or None."""
        x0, y0, x1, y1 = box
        crop = frame[y0:y1, x0:x1]
        if crop.size == 0:
            return None
        for img, det in ((crop, self._plain),
                         (cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), self._aruco)):
            try:
                text, _, _ = det.detectAndDecode(img)
            except cv2.error:
                text = ""
            if text:
                return text.strip()
        return None
