"""One model for every camera: ``SharedDetector`` runs concurrent ``detect`` calls from camera
threads on the cores of the box, behind the ``Detector`` protocol (the pipeline does not change).

Why two sessions of the same file: an ONNX Runtime session's intra-op thread count is fixed when
it is created. Measured (issue 15, 2 cores): two camera threads running a 1-thread session side
by side beat one 2-thread session called in turn (its worker threads spin between the many small
operators and only one frame is in flight): 300-311 against 218-231 frames/s on a quiet box,
36 against 23 on a loaded one (``bench``'s shared-detector row). One camera alone was faster on
the 2-thread session on the quiet box (on the loaded one the 1-thread session won even alone:
``fps_1_caller_one_core``). So a caller alone in ``detect`` takes every core (the wide session);
otherwise each caller takes one core (the narrow session, called concurrently:
``InferenceSession.run`` is thread-safe and a 1-thread run executes on the caller's thread).

Fair share: callers are served first come, first served; a camera thread has one call in flight
at a time, so with every camera busy they take turns. A camera that cannot keep up does not queue
frames here: its source drops the frames that are late (``edge.sources``), and idle cameras (gate
says no tray) never call ``detect``.
"""
from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

import numpy as np

from detectors.detections import Detections
from detectors.onnx_backend import OnnxDetector


class CoreScheduler:
    """Hands out the ``cores`` of the box to callers in arrival order: all of them to a caller who
    is alone, one each when several want them.

    Alone means no other caller is inside ``detect`` at all (``enter``/``leave``), not merely none
    waiting for a core: two cameras alternate between the model and their own letterbox/decode, and
    counting only the waiting ones gave each of them every core in turn (measured: no faster than
    one session called in turn)."""

    def __init__(self, cores: int):
        self.cores = max(1, cores)
        self.free = self.cores
        self.active = 0  # callers inside detect (pre/post-processing or the model)
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self.calls = {1: 0, self.cores: 0}  # calls served per core count (the wide/narrow split)

    def acquire(self) -> int:
        """Block until it is this caller's turn and a core is free; the cores it got."""
        me = object()
        with self._cond:
            self._waiting.append(me)
            while self._waiting[0] is not me or self.free == 0:
                self._cond.wait()
            self._waiting.popleft()
            alone = self.free == self.cores and not self._waiting and self.active <= 1
            took = self.cores if alone else 1
            self.free -= took
            self.calls[took] += 1
            self._cond.notify_all()  # the next in line may take a core that is still free
            return took

    def enter(self) -> None:
        with self._cond:
            self.active += 1

    def leave(self) -> None:
        with self._cond:
            self.active -= 1

    def release(self, took: int) -> None:
        with self._cond:
            self.free += took
            self._cond.notify_all()

    @property
    def busy(self) -> int:
        """Cores in use now."""
        return self.cores - self.free


class SharedDetector:
    """``Detector`` for N cameras over one ONNX model file (see the module docstring)."""

    def __init__(self, model: str | Path, conf: float = 0.25, iou: float = 0.7, threads: int = 2,
                 providers: list[str] | None = None, max_det: int = 100, spin: bool = True):
        self.wide = OnnxDetector(model, conf, iou, threads, providers, max_det, spin)
        self.narrow = (self.wide if threads == 1 else
                       OnnxDetector(model, conf, iou, 1, providers, max_det, spin))
        self.scheduler = CoreScheduler(threads)
        self.path = self.wide.path
        self.classes = self.wide.classes
        self.lookalikes = self.wide.lookalikes
        self.operating_conf = self.wide.operating_conf
        self.class_conf = self.wide.class_conf
        self.input_hw = self.wide.input_hw

    # the operating point is set by evaluation after loading: both sessions decode with it
    @property
    def conf(self) -> float:
        return self.wide.conf

    @conf.setter
    def conf(self, value: float) -> None:
        self.wide.conf = self.narrow.conf = value

    @property
    def max_det(self) -> int:
        return self.wide.max_det

    @max_det.setter
    def max_det(self, value: int) -> None:
        self.wide.max_det = self.narrow.max_det = value

    def infer(self, blob: np.ndarray) -> np.ndarray:
        took = self.scheduler.acquire()
        try:
            return (self.wide if took > 1 else self.narrow).infer(blob)
        finally:
            self.scheduler.release(took)

    def detect(self, frame: np.ndarray) -> Detections:
        self.scheduler.enter()
        try:
            blob, g = self.wide.letterbox(frame)  # letterbox and decode outside the cores' hand-out
            return self.wide.decode(self.infer(blob), g, frame.shape[:2])
        finally:
            self.scheduler.leave()
