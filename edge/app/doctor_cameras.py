"""``doctor``'s camera checks: each camera tried within its time limit, in a child process of
its own so that silent cameras are waited for side by side, not one after another."""
from __future__ import annotations

import multiprocessing
import threading
import time
from multiprocessing.connection import Connection

from edge.errors import TrayCheckError
from edge.sources.camera_state import NOT_OPENED, CameraState
from edge.sources.capture import FileSource, LiveSource, is_live, open_source
from edge.sources.live import why_not_open


class CameraCheck:
    """One camera's check in its own thread, so the time limit holds even when no frame ever
    comes (a stream that does not answer, a silent socket): the source is stopped at the
    deadline whatever the rest of doctor is doing, and ``result()`` answers FAIL with the
    source's own reason."""

    def __init__(self, name: str, source: str, timeout: float = 15.0):
        self.source, self.timeout = source, timeout
        self.live = is_live(source)
        self.state = CameraState(name, quiet=True)
        # a stream's open/read timeout, and the time kept at the end for its reader to leave
        # OpenCV (a process exiting while a thread is inside is aborted): all within ``timeout``
        self.stall_s = min(5.0, timeout / 4)
        self.end = time.monotonic() + timeout
        self.deadline = self.end - (self.stall_s + 0.5 if self.live else 0.0)
        self._src: FileSource | LiveSource | None = None
        self._outcome: tuple[bool, str] | None = None
        self._thread = threading.Thread(target=self._run, name=f"doctor camera {name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._src = src = open_source(self.source, speed=None, state=self.state, stall_s=self.stall_s)
        except TrayCheckError as exc:
            self._outcome = (False, str(exc))
            return
        timer = threading.Timer(max(0.0, self.deadline - time.monotonic()), src.stop, kwargs={"join_s": 0})
        timer.daemon = True
        timer.start()
        n, shape = 0, (0, 0)
        try:
            for frame in src.frames():  # ends at the deadline: the timer stops the source
                n, shape = n + 1, frame.image.shape
                if n >= 5:
                    break
        except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
            self._outcome = (False, f"{self.source}: reading failed ({exc})")
            return
        finally:
            timer.cancel()
            src.stop(join_s=max(0.0, self.end - time.monotonic()))
        self._outcome = (True, f"{n} frames, {shape[1]}x{shape[0]}") if n else None

    def result(self) -> tuple[bool, str]:
        self._thread.join(max(0.0, self.end - time.monotonic()))
        if self._src is not None:
            self._src.stop()  # normally done already; never exit while its reader is inside OpenCV
        if self._outcome is not None:
            return self._outcome
        reason = self.state.snapshot()["reason"]
        if (not reason or reason == NOT_OPENED) and self.live:
            reason = why_not_open(self.source, timeout_s=0.5)
        if reason and reason != NOT_OPENED:
            return False, f"{reason} (no frame within {self.timeout:.0f} s)"
        return False, f"no frame within {self.timeout:.0f} s"


def check_camera(name: str, source: str, timeout: float = 15.0) -> tuple[bool, str]:
    """One camera: ok with the frame size, or FAIL with the reason, within ``timeout`` seconds."""
    return CameraCheck(name, source, timeout).result()


CHILD_GRACE_S = 1.5  # a camera's child process answers by then after its limit, or it is killed


def _camera_in_child(name: str, source: str, timeout: float, out: Connection) -> None:
    """The body of a camera's child process: its check, sent back to the parent. (The process
    then ends with ``os._exit``, so a reader still inside OpenCV cannot abort it.)"""
    try:
        result = check_camera(name, source, timeout)
    except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
        result = (False, f"{source}: check failed ({type(exc).__name__}: {exc})")
    try:
        out.send(result)
    except OSError:  # the parent gave up on it already
        pass


class CameraProcess:
    """One camera's check in a child process, so that checks run truly side by side: OpenCV's
    FFmpeg backend opens one stream at a time per process (a global lock), and a silent camera
    holds that lock for its whole open timeout, so checks in threads of one process queued
    behind each other (3 silent cameras: 20 s for a 15 s limit). The parent waits for the
    answer until the limit plus ``CHILD_GRACE_S`` and then ends the child, whatever it does."""

    _ctx = multiprocessing.get_context("fork")  # the child has this process's modules already: no start-up

    def __init__(self, name: str, source: str, timeout: float = 15.0):
        self.source, self.timeout = source, timeout
        self.end = time.monotonic() + timeout
        self._answer, send = self._ctx.Pipe(duplex=False)
        self._proc = self._ctx.Process(target=_camera_in_child, args=(name, source, timeout, send),
                                       name=f"doctor camera {name}", daemon=True)
        self._proc.start()
        send.close()  # the child holds the only write end: its death reads as EOF here

    def result(self) -> tuple[bool, str]:
        """The child's answer, or FAIL when none came by the limit plus the grace (the child
        is killed then)."""
        try:
            if self._answer.poll(max(0.0, self.end + CHILD_GRACE_S - time.monotonic())):
                ok, detail = self._answer.recv()
                return bool(ok), str(detail)
            return False, f"no frame within {self.timeout:.0f} s (the check did not end in time)"
        except (EOFError, OSError):
            return False, f"{self.source}: the check ended without an answer (exit status {self._proc.exitcode})"
        finally:
            self._answer.close()
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(1.0)
