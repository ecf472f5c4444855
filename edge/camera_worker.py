"""One camera's frame loop: open its source, feed every frame to its pipeline, and
open the source again when it ends, so a camera thread never dies of a bad frame."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge.capture import FileSource, Frame, LiveSource, open_source
from edge.pipeline import CameraPipeline

log = logging.getLogger("traycheck.camera")


class CameraWorker:
    def __init__(self, name: str, source_ref: str, speed: float | None, pipeline: CameraPipeline,
                 once: bool = False):
        """``once``: a file source ends the loop at its end (a replay) instead of starting again."""
        self.name = name
        self.once = once
        self.before_frame: Callable[[Frame], None] | None = None  # e.g. a replay's POS script
        self.after_frame: Callable[[Frame, float], None] | None = None  # (frame, pipeline seconds)
        self.failed_frames = 0
        self.last_t: float | None = None  # stream time of the last frame processed
        self.finished = threading.Event()  # set when the loop has ended (``once``, or stopped)
        self.source_ref = source_ref
        self.speed = speed
        self.pipeline = pipeline
        self.source: FileSource | LiveSource | None = None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"camera {name}", daemon=True)
        self.last_progress = time.monotonic()
        self._recent: list[float] = []  # monotonic times of recent frames, for fps

    def fps(self, window: float = 60.0) -> float:
        now = time.monotonic()
        recent = [t for t in self._recent if now - t <= window]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self.finished.set()

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            self.source = open_source(self.source_ref, self.speed)
            for frame in self.source.frames():
                if self.stop_event.is_set():
                    break
                if self.before_frame is not None:
                    self.before_frame(frame)
                t0 = time.perf_counter()
                try:
                    self.pipeline.process(frame)
                except Exception:  # one bad frame must not end the camera
                    self.failed_frames += 1
                    log.exception("camera %s: frame %d failed", self.name, frame.index)
                if self.after_frame is not None:
                    self.after_frame(frame, time.perf_counter() - t0)
                self.last_t = frame.t
                self.last_progress = time.monotonic()
                self._recent.append(self.last_progress)
                if len(self._recent) > 2000:
                    del self._recent[:1000]
            if self.once and isinstance(self.source, FileSource):
                return
            if isinstance(self.source, FileSource) and not self.stop_event.is_set():
                log.info("camera %s: end of file, starting it again", self.name)

    def stop(self) -> None:
        self.stop_event.set()
        if self.source is not None:
            self.source.stop()
        if self.thread.ident is not None:  # (started)
            self.thread.join(timeout=5)
