"""One camera's frame loop: open its source, feed every frame to its pipeline, and open
the source again whenever it ends or fails, so a camera thread never dies.

A file camera loops (end of file: opened again at once); a file that is missing or
unreadable is tried again with a capped backoff until it is back. A live source
reconnects by itself (:mod:`edge.sources.live`). The camera's state (ok /
reconnecting / failed, with the reason) is what ``/readyz``, ``/metrics``, the
system page and the watchdog read.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Generic, TypeVar

from edge.errors import TrayCheckError
from edge.pipeline.loop import FrameLoop, FrameSink
from edge.sources.camera_state import FAILED, OK, CameraState
from edge.sources.capture import FileSource, LiveSource, open_source
from edge.sources.frame import Frame

log = logging.getLogger("traycheck.camera")

BACKOFF = (0.25, 1.0)  # seconds between tries of a missing file: doubles up to the cap (<= 2 s)
STALL_S = 10.0  # an ok camera with no frame processed for this long is reported failed


S = TypeVar("S", bound=FrameSink)


class CameraWorker(Generic[S]):
    """Generic in its sink so that callers read their own pipeline's counters (``w.pipeline.frames``)."""

    def __init__(self, name: str, source_ref: str, speed: float | None, pipeline: S,
                 fail_after_s: float = 30.0, backoff_s: tuple[float, float] = BACKOFF, once: bool = False):
        """``once``: a file source ends the loop at its end (a replay) instead of starting again."""
        self.name = name
        self.once = once
        self.after_frame: Callable[[Frame, float], None] | None = None  # (frame, pipeline seconds)
        self.loop = FrameLoop(pipeline, f"camera {name}", after=self._after, raise_errors=False)
        self.finished = threading.Event()  # set when the loop has ended (``once``, or stopped)
        self.source_ref = source_ref
        self.speed = speed
        self.pipeline = pipeline
        self.status = CameraState(name, fail_after_s)
        self.backoff_min, self.backoff_max = backoff_s
        self.source: FileSource | LiveSource | None = None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"camera {name}", daemon=True)
        self._recent: list[float] = []  # monotonic times of recent frames, for fps
        self._dropped_before = 0  # late frames dropped by the sources before the current one

    def fps(self, window: float = 60.0) -> float:
        now = time.monotonic()
        recent = [t for t in list(self._recent) if now - t <= window]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    @property
    def reconnects(self) -> int:
        """Times this camera was lost (file gone, stream ended) and came back or is being retried."""
        return self.status.outages

    # -- the loop ------------------------------------------------------------------
    def _next_t(self) -> float:
        """Where a reopened source's clock starts: one frame after the last frame processed."""
        if self.last_t is None:
            return 0.0
        fps = self.source.fps if self.source is not None and self.source.fps else 15.0
        return self.last_t + 1.0 / fps

    def _open(self) -> FileSource | LiveSource | None:
        try:
            return open_source(self.source_ref, self.speed, state=self.status, t_floor=self._next_t(),
                               drop_late=not self.once)  # a replay (once) processes every frame
        except TrayCheckError as exc:
            self.status.trouble(str(exc))
        except Exception as exc:  # noqa: BLE001 - whatever OpenCV raises, the camera is tried again
            self.status.trouble(f"{self.source_ref}: cannot be opened ({type(exc).__name__}: {exc})")
        return None

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self.finished.set()

    def _loop(self) -> None:
        backoff = self.backoff_min
        while not self.stop_event.is_set():
            source = self._open()
            if source is None:
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            if self.source is not None:  # its drops stay counted
                self._dropped_before += self.source.dropped
            self.source = source
            try:
                for frame in source.frames():
                    if self.stop_event.is_set():
                        break
                    if not source.live:
                        self.status.ok()
                        backoff = self.backoff_min
                    self.loop.step(frame)
            except Exception as exc:  # noqa: BLE001 - a read that raises: reopen, never die
                self.status.trouble(f"{self.source_ref}: reading failed ({type(exc).__name__}: {exc})")
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)
            finally:
                source.stop()
            if self.once and not source.live:
                return
            if not source.live and not self.stop_event.is_set():
                log.debug("camera %s: end of file, starting it again", self.name)

    def _after(self, frame: Frame, seconds: float) -> None:
        self._recent.append(time.monotonic())
        if len(self._recent) > 2000:
            del self._recent[:1000]
        if self.after_frame is not None:
            self.after_frame(frame, seconds)

    # the loop's figures, read by the service, the watchdog and replay
    @property
    def before_frame(self) -> Callable[[Frame], None] | None:
        return self.loop.before

    @before_frame.setter
    def before_frame(self, hook: Callable[[Frame], None] | None) -> None:
        self.loop.before = hook

    @property
    def dropped(self) -> int:
        """Frames this camera dropped because it was behind (never queued): all its sources so far."""
        src = self.source
        return self._dropped_before + (src.dropped if src is not None else 0)

    @property
    def last_t(self) -> float | None:
        return self.loop.last_t

    @property
    def last_progress(self) -> float:
        return self.loop.last_progress

    @property
    def failed_frames(self) -> int:
        return self.loop.failed_frames

    # -- what the service reads ------------------------------------------------------
    def stuck(self, stall_s: float = 20.0) -> bool:
        """True when this camera is not doing its job for a reason a restart could fix: its
        thread ended, one frame has been processing for ``stall_s``, or the source says it
        delivers and no frame came for ``stall_s``. A camera waiting for its source to come
        back (reconnecting, failed) is not stuck: the service is doing what it should."""
        now = time.monotonic()
        if self.thread.ident is not None and not self.thread.is_alive():
            return True
        busy = self.loop.busy_since
        if busy is not None and now - busy > stall_s:
            return True
        failing = self.loop.failing  # a pipeline failing on every frame: a restart is the last resort
        if failing is not None and now - failing[1] > stall_s:
            return True
        return self.status.raw == OK and now - self.last_progress > stall_s

    def state(self, stall_s: float = STALL_S) -> dict:
        """{"state": ok|reconnecting|failed, "reason", "since", "for_s", "fps", "reconnects", "dropped"}."""
        s = self.status.snapshot()
        now = time.monotonic()
        if self.thread.ident is not None and not self.thread.is_alive() and not self.stop_event.is_set():
            s.update(state=FAILED, reason="camera thread ended")
        elif (busy := self.loop.busy_since) is not None and (now - busy > stall_s or (
                s["state"] == OK and now - self.last_progress > stall_s)):
            s.update(state=FAILED, reason=f"one frame has been processing for {now - busy:.0f} s")
        elif s["state"] == OK and now - self.last_progress > stall_s:
            s.update(state=FAILED, reason=f"no frame processed for {now - self.last_progress:.0f} s")
        elif s["state"] == OK and (failing := self.loop.failing) is not None:
            s.update(state=FAILED, reason=failing[0], for_s=round(now - failing[1], 1),
                     since=datetime.fromtimestamp(time.time() - (now - failing[1]), timezone.utc)
                     .isoformat(timespec="seconds"))
        s["fps"] = round(self.fps(), 1)
        s["reconnects"] = self.reconnects
        s["dropped"] = self.dropped
        return s

    def request_stop(self) -> None:
        """Tell the camera and its source to stop, without waiting (to stop many side by side)."""
        self.stop_event.set()
        if self.source is not None:
            self.source.stop(join_s=0)

    def stop(self) -> None:
        """Stop and wait: at most the source's open/read timeout (5 s) + 1 s for a stream."""
        self.request_stop()
        if self.source is not None:
            self.source.stop()
        if self.thread.ident is not None:  # (started)
            self.thread.join(timeout=7)
