"""One model for every camera (``detectors.shared``): the same boxes as a plain detector from
concurrent camera threads, cores handed out all-to-one-or-one-each in arrival order; and a
camera that falls behind drops late frames (counted) instead of queueing them."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from detectors.loader import load_detector
from detectors.onnx_backend import OnnxDetector
from detectors.shared import CoreScheduler, SharedDetector
from edge.bench.detectors import load_frames
from edge.sources.capture import LATE_FRAMES, FileSource
from tests.camera_helpers import wait_for
from tests.conftest import FIXTURES

pytestmark = pytest.mark.quick


def test_concurrent_callers_get_the_boxes_a_plain_detector_finds():
    frames = load_frames(FIXTURES / "lunch-rush", 12)
    plain = load_detector(None, "int8", threads=1)
    shared = load_detector(None, "int8", threads=2, shared=True)
    assert isinstance(shared, SharedDetector) and isinstance(plain, OnnxDetector)
    assert shared.classes == plain.classes and shared.path == plain.path
    want = [plain.detect(f) for f in frames]
    got: dict[int, list] = {}

    def camera(k: int) -> None:
        got[k] = [shared.detect(f) for f in frames]
    threads = [threading.Thread(target=camera, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(got) == [0, 1, 2, 3]
    assert sum(len(d) for d in want) > 0  # the frames have trays on them
    for k, dets in got.items():
        for a, b in zip(dets, want):
            assert np.array_equal(a.class_id, b.class_id), k
            np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.5)
    calls = shared.scheduler.calls
    assert calls[1] > 0 and calls[1] + calls[2] == 4 * len(frames)  # concurrent callers ran side by side
    shared.conf = 0.99  # evaluation sets the operating point after loading: both sessions use it
    assert shared.narrow.conf == shared.wide.conf == 0.99


def test_a_lone_caller_takes_every_core_and_callers_that_meet_take_one_each():
    s = CoreScheduler(2)
    assert s.acquire() == 2  # nobody else: the wide session
    results: list[int] = []
    waiters = [threading.Thread(target=lambda: results.append(s.acquire())) for _ in range(2)]
    for w in waiters:
        w.start()
    wait_for(lambda: len(s._waiting) == 2, 10, "two callers waiting for the busy cores")
    assert results == []  # nothing is queued past the cores: they wait their turn
    s.release(2)
    wait_for(lambda: len(results) == 2, 10, "both waiting callers served")
    assert results == [1, 1] and s.busy == 2
    s.release(1)
    s.release(1)
    assert s.busy == 0 and s.acquire() == 2


def test_a_caller_is_not_alone_while_another_is_inside_detect():
    """Another camera letterboxing or decoding its frame will want a core in a moment: one each."""
    s = CoreScheduler(2)
    s.enter()
    s.enter()
    took = s.acquire()
    assert took == 1
    s.release(took)
    s.leave()
    took = s.acquire()
    assert took == 2  # the other one has left
    s.release(took)
    s.leave()


def test_callers_are_served_in_arrival_order():
    s = CoreScheduler(1)
    first = s.acquire()
    order: list[int] = []

    def caller(k: int) -> None:
        took = s.acquire()
        order.append(k)
        s.release(took)
    threads = []
    for k in range(5):  # each arrives after the one before is waiting
        threads.append(threading.Thread(target=caller, args=(k,)))
        threads[-1].start()
        wait_for(lambda: len(s._waiting) == k + 1, 10, f"caller {k} waiting")
    s.release(first)
    for t in threads:
        t.join(timeout=10)
    assert order == [0, 1, 2, 3, 4]


def test_a_camera_that_falls_behind_drops_late_frames_and_counts_them():
    src = FileSource(FIXTURES / "lunch-rush" / "video.mp4", speed=1.0, drop_late=True)
    late = LATE_FRAMES / src.fps
    seen = []
    for frame in src.frames():
        seen.append(frame.index)
        if len(seen) == 1:
            time.sleep(late + 0.3)  # the pipeline's work on this frame: longer than the camera may fall behind
        if len(seen) == 6:
            break
    src.stop()
    assert src.dropped >= 3  # the frames that were due while it was busy, dropped as it read them
    assert seen[1] - seen[0] == src.dropped + 1  # a gap, not a backlog: it goes on with the frame due now
    assert seen[2:] == list(range(seen[1] + 1, seen[1] + 5))  # caught up: nothing more dropped
    keep = FileSource(FIXTURES / "lunch-rush" / "video.mp4", speed=1.0)  # a replay keeps every frame
    got = []
    for frame in keep.frames():
        got.append(frame.index)
        if len(got) == 1:
            time.sleep(late + 0.3)
        if len(got) == 6:
            break
    assert got == list(range(6)) and keep.dropped == 0


class SlowFirstFrame:
    """A pipeline that is busy on its first frame for longer than a camera may fall behind."""

    def __init__(self, busy_s: float):
        self.busy_s = busy_s
        self.frames = 0

    def process(self, frame) -> None:
        self.frames += 1
        if self.frames == 1:
            time.sleep(self.busy_s)  # the work on this frame (not a wait for a state)


def test_a_service_camera_counts_its_dropped_frames():
    from edge.app.camera_worker import CameraWorker

    sink = SlowFirstFrame(LATE_FRAMES / 15 + 0.4)
    w = CameraWorker("slow", str(FIXTURES / "lunch-rush"), 1.0, sink)
    w.thread.start()
    try:
        wait_for(lambda: sink.frames >= 10, 30, "the camera going on after its slow frame")
        assert w.dropped >= 3 and w.state()["dropped"] >= 3
    finally:
        w.stop()
    replay = CameraWorker("replay", str(FIXTURES / "lunch-rush"), 1.0, SlowFirstFrame(0.5), once=True)
    replay.thread.start()  # a replay (once) keeps every frame
    try:
        wait_for(lambda: replay.pipeline.frames >= 10, 30, "the replay going on")
        assert replay.dropped == 0
    finally:
        replay.stop()
