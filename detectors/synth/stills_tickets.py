"""Which photos of a stills shift carry a QR ticket the pipeline will read.

A photo of a real tray often shows a printed ticket. The pipeline reads its QR
code and then waits for the order it names, so that order must exist: a tray
whose ticket is readable gets the ticket's text as its order id. Readability
is decided on the encoded video with the pipeline's own reader, over every
frame the pipeline may try (the end of the slide-in and the first frames at
rest): a code decodes on some frames and not on others, and the clean frame
before encoding is not what the pipeline sees. Whatever the pipeline can read
there, this reads too. A cheap look for a code at all skips the trays without one.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from detectors.tickets import TicketReader, sharpen
from edge.errors import InvalidInput


class Locator:
    def __init__(self) -> None:
        self._plain = cv2.QRCodeDetector()
        self._aruco = cv2.QRCodeDetectorAruco()

    def __call__(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        """Whether something like a QR code is in the box (found, not necessarily decodable)."""
        x0, y0, x1, y1 = box
        grey = sharpen(cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY), 2.0)
        for det in (self._plain, self._aruco):
            try:
                if det.detect(grey)[0]:
                    return True
            except cv2.error:
                continue
        return False


def read_tickets(video: Path, windows: list[tuple[int, int, int]], box: tuple[int, int, int, int],
                 clean_has_code: list[bool]) -> list[str | None]:
    """Per tray, the first QR text read on frames ``first..last`` of the video, or None.

    ``windows``: (first, rest, last) frame indices per tray, in order; ``clean_has_code``: whether
    a code was located on the tray's frame before encoding (either look is enough to try).
    """
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InvalidInput(f"{video}: OpenCV cannot open the video just written")
    reader, locate = TicketReader(), Locator()
    out: list[str | None] = []
    i = 0
    try:
        for (first, rest, last), clean in zip(windows, clean_has_code):
            while i < first and cap.grab():
                i += 1
            frames = []
            while i <= last:
                ok, frame = cap.read()
                if not ok:
                    break
                frames.append(frame)
                i += 1
            at_rest = frames[min(rest - first, len(frames) - 1)] if frames else None
            text = None
            if at_rest is not None and (clean or locate(at_rest, box)):
                text = next((t for t in (reader.read(f, box) for f in frames) if t), None)
            out.append(text)
    finally:
        cap.release()
    return out
