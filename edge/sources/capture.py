"""Frame sources: a video file (paced or as fast as possible) and live cameras
(RTSP/HTTP streams, V4L2 devices, in :mod:`edge.sources.live`).

Every frame carries its stream timestamp in seconds. A source opened with
``t_floor`` starts its clock there, so a camera whose file is opened again (end
of file, or the file came back) never shows the pipeline time going back.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from edge.errors import InvalidInput

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from edge.sources.camera_state import CameraState  # noqa: E402
from edge.sources.frame import Frame  # noqa: E402
from edge.sources.live import LiveSource, open_capture  # noqa: E402
from edge.sources.video_file import VideoFile, shift_video  # noqa: E402

__all__ = ["Frame", "FileSource", "LiveSource", "open_capture", "open_source", "is_live"]


LATE_FRAMES = 2  # a paced frame later than this many frame times is dropped (``drop_late``)


class FileSource:
    """A recorded video: at its own pace (speed 1), N times faster, or as fast as possible (None).

    ``drop_late`` (a camera of the service, the bench's cameras): a paced frame that is more than
    ``LATE_FRAMES`` frame times late when it is read is dropped and counted (``dropped``), as a live
    camera's newest-frame reader drops, so a camera that falls behind never builds a backlog (a
    frame or two of jitter, e.g. every camera's tray arriving at once, is caught up instead)."""

    live = False

    def __init__(self, path: Path, speed: float | None = 1.0, t_floor: float = 0.0, drop_late: bool = False):
        if speed is not None and speed <= 0:
            raise InvalidInput(f"--speed {speed}: must be > 0 or 'max'")
        self.video = VideoFile(path)
        self.speed = speed
        self.fps = self.video.fps
        self.t_floor = t_floor
        self.reconnects = 0
        self.drop_late = drop_late
        self.dropped = 0  # late frames skipped (drop_late)
        self._stop = threading.Event()

    def frames(self) -> Iterator[Frame]:
        start = time.monotonic()
        late_s = LATE_FRAMES / (self.fps * (self.speed or 1.0))
        for i, (t, img) in enumerate(self.video):
            if self._stop.is_set():
                return
            if self.speed is not None:
                delay = start + t / self.speed - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif self.drop_late and -delay > late_s:
                    self.dropped += 1
                    continue
            yield Frame(i, self.t_floor + t, img)

    def stop(self, join_s: float = 0.0) -> None:
        self._stop.set()


def is_live(ref: str | Path) -> bool:
    """rtsp://, http(s)://, /dev/videoN: a live camera; anything else is a file or shift folder."""
    return str(ref).startswith(("rtsp://", "http://", "https://", "/dev/video"))


def open_source(ref: str | Path, speed: float | None = 1.0, state: CameraState | None = None,
                t_floor: float = 0.0, stall_s: float = 5.0, drop_late: bool = False) -> FileSource | LiveSource:
    """A file path or shift folder -> FileSource (InvalidInput when it is missing or unreadable);
    rtsp://, http(s)://, /dev/videoN -> LiveSource (never raises: it keeps trying in the background,
    each open and read limited to ``stall_s``)."""
    s = str(ref)
    if is_live(s):
        return LiveSource(s, stall_s=stall_s, state=state, t_floor=t_floor)
    return FileSource(shift_video(Path(s)), speed, t_floor, drop_late)
