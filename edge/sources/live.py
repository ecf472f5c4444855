"""Live cameras: RTSP/HTTP streams and V4L2 devices through OpenCV/FFmpeg.

A reader thread keeps only the newest frame: a slow consumer skips frames instead of
building latency. A stream that cannot be opened, ends or stalls is reopened with a
capped backoff (at most ``backoff_s[1]`` between tries, forever until ``stop()``), so a
camera that comes back is read again within about a second of answering. Stream time
stays monotonic across reopens: each connection's clock restarts, so it is rebased to
continue one frame interval after the last frame delivered.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edge.sources.camera_state import CameraState, redact  # noqa: E402
from edge.sources.frame import Frame  # noqa: E402
from edge.sources.video_file import ONE_DECODE_THREAD  # noqa: E402

log = logging.getLogger("traycheck.capture")
# OpenCV's own warnings ("Stream timeout triggered", "can't be used to capture by name") would
# come once per retry; the camera's state says it once per outage, with the reason.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

DEFAULT_FPS = 15.0


def open_capture(url: str, timeout_s: float = 5.0) -> cv2.VideoCapture:
    """RTSP/HTTP URLs through FFmpeg, /dev/videoN through V4L2.

    Open and read time out after ``timeout_s``: a silent peer or a stalled stream ends
    the attempt instead of blocking the reader thread forever.
    """
    if url.startswith("/dev/video"):
        return cv2.VideoCapture(url, cv2.CAP_V4L2)
    # TCP for RTSP (no lost UDP packets on a busy LAN); probe the stream for 0.5 s, not FFmpeg's
    # default 5 s: a camera that comes back is read again ~0.5 s after it answers (measured with
    # GStreamer's RTSP server: open 1.5 s by default, 0.5 s so). Read at each open by OpenCV.
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;500000")
    ms = int(timeout_s * 1000)
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms,
                                                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms, *ONE_DECODE_THREAD])


def why_not_open(url: str, timeout_s: float = 1.0) -> str:
    """One line saying why ``url`` gave no video: nothing listens, no answer, or no video."""
    shown = redact(url)
    if url.startswith("/dev/video"):
        if not os.path.exists(url):
            return f"device {url} not found"
        return f"device {url} cannot be opened (busy, no permission, or not a capture device)"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or {"rtsp": 554, "http": 80, "https": 443}.get(parts.scheme, 80)
    except ValueError:
        return f"stream {shown}: not a valid URL"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except ConnectionRefusedError:
        return f"stream {shown} did not answer: nothing listens on {host}:{port} (connection refused)"
    except socket.timeout:
        return f"stream {shown} did not answer: {host}:{port} unreachable (no answer in {timeout_s:g} s)"
    except OSError as exc:
        return f"stream {shown} did not answer: {host}:{port}: {exc.strerror or exc}"
    return f"stream {shown} did not answer: {host}:{port} accepts connections but sent no video"


JUMP_FRAMES = 3  # a stream clock running ahead of the wall clock by more frame intervals than this jumped


class StreamClock:
    """Monotonic stream time over reopens: each connection is rebased to go on one frame
    interval after the last time given out (and so is a clock that jumps back). A clock that
    jumps forward (a camera's clock set, a timestamp glitch) would fire every hold and
    no-order timer at once: when stream time runs ahead of the wall clock between two frames by
    more than ``JUMP_FRAMES`` intervals, it is rebased to go on by the wall time that passed."""

    def __init__(self, floor: float = 0.0, name: str = ""):
        self.last: float | None = None
        self.floor = floor
        self.name = name
        self._base: float | None = None
        self._last_wall: float | None = None
        self.jumps = 0  # forward jumps rebased

    def reopened(self) -> None:
        self._base = None

    def __call__(self, raw: float, fps: float, wall: float | None = None) -> float:
        """Stream time of a frame with camera time ``raw`` arriving at monotonic ``wall`` (now if None)."""
        wall = time.monotonic() if wall is None else wall
        step = 1.0 / (fps if fps > 0 else DEFAULT_FPS)
        if self._base is None or (self.last is not None and raw + self._base <= self.last):
            start = self.floor if self.last is None else self.last + step
            self._base = start - raw
        elif self.last is not None and self._last_wall is not None:
            passed = max(wall - self._last_wall, step)
            ahead = raw + self._base - self.last - passed
            if ahead > JUMP_FRAMES * step:
                self.jumps += 1
                log.warning("camera %s: stream time jumped %.1f s ahead of the wall clock; rebased",
                            self.name, ahead)
                self._base = self.last + passed - raw
        t = raw + self._base
        self.last, self._last_wall = t, wall
        return t


class LiveSource:
    """A camera stream; ``frames()`` yields the newest frame each time one arrives."""

    live = True

    def __init__(self, url: str, stall_s: float = 5.0, backoff_s: tuple[float, float] = (0.25, 1.0),
                 state: CameraState | None = None, t_floor: float = 0.0):
        self.url = url
        self.shown = redact(url)
        self.stall_s = stall_s
        self.backoff_min, self.backoff_max = backoff_s
        self.state = state or CameraState(self.shown)
        self.fps = 0.0
        self.reconnects = 0  # streams that ended after delivering
        self.attempts = 0  # opens tried
        self.connected = False
        self._clock = StreamClock(t_floor, self.shown)
        self._cond = threading.Condition()
        self._latest: tuple[float, np.ndarray] | None = None
        self._delivered = 0
        self.dropped = 0  # frames replaced by a newer one before the consumer took them
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture {self.shown}", daemon=True)
        self._thread.start()

    def _open(self) -> cv2.VideoCapture | None:
        self.attempts += 1
        try:
            cap = open_capture(self.url, self.stall_s)
        except cv2.error as exc:  # a malformed URL or device path: retried like any other failure
            self.state.trouble(f"stream {self.shown}: OpenCV cannot open it ({str(exc).strip()[:120]})")
            return None
        if cap.isOpened():
            return cap
        cap.release()
        if not self._stop.is_set():
            self.state.trouble(why_not_open(self.url))
        return None

    def _read_all(self, cap: cv2.VideoCapture) -> bool:
        """Read until the stream ends, stalls or ``stop()``; True when frames came."""
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 240 else self.fps
        self._clock.reopened()
        t0 = time.monotonic()
        got_one = False
        while not self._stop.is_set():
            ok, img = cap.read()  # blocks; the read timeout ends a dead or silent stream
            if not ok or img is None:
                break
            now = time.monotonic()
            if not got_one:
                got_one = self.connected = True
                self.state.ok()
                log.info("camera %s: streaming", self.shown)
            pos = cap.get(cv2.CAP_PROP_POS_MSEC)
            t = self._clock(pos / 1000.0 if pos and pos > 0 else now - t0, self.fps, now)
            with self._cond:
                if self._latest is not None:
                    self.dropped += 1
                self._latest = (t, img)
                self._cond.notify_all()
        return got_one

    def _run(self) -> None:
        backoff = self.backoff_min
        while not self._stop.is_set():
            cap = self._open()
            if cap is not None:
                try:
                    if self._read_all(cap):
                        backoff = self.backoff_min
                except cv2.error as exc:
                    log.debug("camera %s: read failed: %s", self.shown, exc)
                finally:
                    cap.release()
                    self.connected = False
                if self._stop.is_set():
                    break
                self.reconnects += 1
                self.state.trouble(f"stream {self.shown} stopped sending frames")
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

    def stop(self, join_s: float | None = None) -> None:
        """Stop reading. Waits (by default up to the open/read timeout + 1 s) for the reader
        thread to leave OpenCV: a process that exits while a daemon thread is inside a
        blocking OpenCV call is aborted by the C++ runtime ("terminate called ...")."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        join_s = self.stall_s + 1.0 if join_s is None else join_s
        if join_s > 0 and self._thread is not threading.current_thread():
            self._thread.join(timeout=join_s)

    @property
    def reading(self) -> bool:
        """The reader thread still runs (it may be inside a blocking open or read)."""
        return self._thread.is_alive()
