"""Frame sources: a video file (paced or as fast as possible) and live cameras
(RTSP/HTTP streams, V4L2 devices) through OpenCV/FFmpeg.

A live source has a reader thread that keeps only the newest frame: a slow
consumer skips frames instead of building latency. A live source that fails
or stalls is reopened with exponential backoff while the service keeps
running. Every frame carries its stream timestamp in seconds.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edge.errors import UserError  # noqa: E402
from edge.video_source import VideoFile  # noqa: E402

log = logging.getLogger("traycheck.capture")


@dataclass(frozen=True)
class Frame:
    index: int  # frames delivered by this source so far (not counting skipped ones)
    t: float  # stream time, seconds
    image: np.ndarray  # BGR uint8


class FileSource:
    """A recorded video: at its own pace (speed 1), N times faster, or as fast as possible (None)."""

    live = False

    def __init__(self, path: Path, speed: float | None = 1.0):
        if speed is not None and speed <= 0:
            raise UserError(f"--speed {speed}: must be > 0 or 'max'")
        self.video = VideoFile(path)
        self.speed = speed
        self.fps = self.video.fps
        self.reconnects = 0
        self._stop = threading.Event()

    def frames(self) -> Iterator[Frame]:
        start = time.monotonic()
        for i, (t, img) in enumerate(self.video):
            if self._stop.is_set():
                return
            if self.speed is not None:
                delay = start + t / self.speed - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
            yield Frame(i, t, img)

    def stop(self) -> None:
        self._stop.set()


def open_capture(url: str, timeout_s: float = 5.0) -> cv2.VideoCapture:
    """RTSP/HTTP URLs through FFmpeg (TCP for RTSP), /dev/videoN through V4L2.

    Open and read time out after ``timeout_s``: a stalled stream ends the read
    loop and is reopened instead of blocking the reader thread forever.
    """
    if url.startswith("/dev/video"):
        return cv2.VideoCapture(url, cv2.CAP_V4L2)
    if url.startswith("rtsp://"):
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    ms = int(timeout_s * 1000)
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG,
                            [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])


class LiveSource:
    """A camera stream; ``frames()`` yields the newest frame each time one arrives."""

    live = True

    def __init__(self, url: str, stall_s: float = 5.0, backoff_s: tuple[float, float] = (0.5, 30.0)):
        self.url = url
        self.stall_s = stall_s
        self.backoff_min, self.backoff_max = backoff_s
        self.fps = 0.0
        self.reconnects = 0
        self.connected = False
        self.last_frame_wall: float | None = None
        self._cond = threading.Condition()
        self._latest: tuple[float, np.ndarray] | None = None
        self._delivered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture {url}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        backoff = self.backoff_min
        t0 = time.monotonic()
        while not self._stop.is_set():
            cap = open_capture(self.url, self.stall_s)
            if not cap.isOpened():
                cap.release()
                log.warning("camera %s: cannot open; retrying in %.1f s", self.url, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            fps = cap.get(cv2.CAP_PROP_FPS)
            self.fps = fps if 0 < fps < 240 else self.fps
            got_one = False
            while not self._stop.is_set():
                ok, img = cap.read()  # blocks; FFmpeg's own timeout ends a dead TCP stream
                if not ok or img is None:
                    break
                if not got_one:
                    got_one, backoff = True, self.backoff_min
                    self.connected = True
                    log.info("camera %s: streaming", self.url)
                now = time.monotonic()
                pos = cap.get(cv2.CAP_PROP_POS_MSEC)
                t = pos / 1000.0 if pos and pos > 0 else now - t0
                with self._cond:
                    self._latest = (t, img)
                    self.last_frame_wall = now
                    self._cond.notify_all()
            cap.release()
            self.connected = False
            if self._stop.is_set():
                break
            self.reconnects += 1
            log.warning("camera %s: stream ended or failed; reconnecting in %.1f s", self.url, backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.backoff_max)

    def frames(self) -> Iterator[Frame]:
        while not self._stop.is_set():
            with self._cond:
                if self._latest is None:
                    self._cond.wait(timeout=0.5)
                item, self._latest = self._latest, None
            if item is None:
                continue
            t, img = item
            yield Frame(self._delivered, t, img)
            self._delivered += 1

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)


def open_source(ref: str | Path, speed: float | None = 1.0) -> FileSource | LiveSource:
    """A file path or shift folder -> FileSource; rtsp://, http(s)://, /dev/videoN -> LiveSource."""
    s = str(ref)
    if s.startswith(("rtsp://", "http://", "https://", "/dev/video")):
        return LiveSource(s)
    from edge.video_source import shift_video

    return FileSource(shift_video(Path(s)), speed)
