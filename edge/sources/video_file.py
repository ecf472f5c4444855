"""Open a recorded video (a shift folder or a file) with OpenCV, or say clearly why not."""
from __future__ import annotations

import os

from edge.errors import InvalidInput

# FFmpeg's own log lines ("moov atom not found") would come before our one-line error.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def shift_video(source: Path) -> Path:
    """The video of a recorded shift folder, or the file itself."""
    source = Path(source)
    if source.is_dir():
        for name in ("video.mp4", "video.avi", "video.mkv"):
            if (source / name).is_file():
                return source / name
        raise InvalidInput(f"{source}: no video.mp4 in this folder (not a recorded shift)")
    if not source.exists():
        raise InvalidInput(f"{source}: no such file or folder")
    return source


# Each camera decodes on one thread: with several cameras the box's cores are shared out by
# camera, not inside each decoder (measured on a 640x480 fixture: 1.25 ms of CPU a frame on one
# thread, 1.67 ms on FFmpeg's default two, which also wake each other up).
ONE_DECODE_THREAD = [cv2.CAP_PROP_N_THREADS, 1]


class VideoFile:
    """Frames of a video file with their stream timestamps (seconds)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG, ONE_DECODE_THREAD)
        ok = self.cap.isOpened()
        first = self.cap.read()[1] if ok else None
        if first is None:
            self.cap.release()
            raise InvalidInput(f"video {self.path}: OpenCV cannot open or decode it")
        self._first = first
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 15.0
        self.frame_count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        self.height, self.width = first.shape[:2]

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        i = 0
        frame: np.ndarray | None = self._first
        while frame is not None:
            yield i / self.fps, frame
            i += 1
            ok, frame = self.cap.read()
            if not ok:
                frame = None
        self.cap.release()
