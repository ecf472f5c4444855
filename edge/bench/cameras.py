"""Bench row ``cameras-N``: N cameras in one process, each replaying a fixture in real
time through its own pipeline, all sharing one detector session (as `traycheck run`
does). It keeps up when no camera's lag behind its stream clock grows.

Lag of a frame = wall time when the pipeline finished it - wall time it was due
(stream time / speed after the camera started). A camera that keeps up has a lag
of a few frame times at most; one that falls behind has a lag growing without end.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from detectors.loader import load_detector
from edge.pipeline.camera import CameraPipeline
from edge.pipeline.loop import FrameLoop
from edge.replay.runner import PosScript, shift_menu
from edge.sources.capture import FileSource
from edge.sources.frame import Frame
from edge.sources.shift_files import read_pos
from edge.sources.video_file import shift_video
from orders.queue import OrderQueue

KEEP_UP_LAG_S = 1.0  # the last 10 s of every camera must lag less than this
KEEP_UP_GROWTH_S = 0.25  # and no more than this above its first 10 s


def _camera(i: int, folder: Path, det, seconds: float, out: dict, start: threading.Event) -> None:
    menu = shift_menu(folder)
    events = read_pos(folder / "pos.jsonl")
    queue = OrderQueue()
    pipe = CameraPipeline(f"bench-{i}", det, menu, queue, lambda v, p: None, run=f"bench:{i}")
    source = FileSource(shift_video(folder), speed=1.0)
    lags: list[tuple[float, float]] = []
    frame_ms: list[float] = []
    start.wait()
    t0 = time.monotonic()

    def after(frame: Frame, seconds: float) -> None:
        frame_ms.append(seconds * 1000)
        lags.append((frame.t, time.monotonic() - (t0 + frame.t)))

    loop = FrameLoop(pipe, f"bench-{i}", before=PosScript(events, lambda ev: queue.add(ev.order, ev.t)), after=after)
    loop.run(source.frames(), until=lambda: time.monotonic() - t0 >= seconds)
    out[i] = {"lags": lags, "frame_ms": frame_ms, "frames": len(lags), "detected": pipe.detected_frames,
              "wall": time.monotonic() - t0}


def bench_cameras(fixtures: list[Path], n: int, model: str | None, variant: str, threads: int,
                  seconds: float = 60.0) -> dict:
    det = load_detector(model, variant, threads=threads)
    start = threading.Event()
    results: dict[int, dict] = {}
    workers = [threading.Thread(target=_camera, args=(i, fixtures[i % len(fixtures)], det, seconds, results, start),
                                daemon=True) for i in range(n)]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join()
    frames = sum(r["frames"] for r in results.values())
    wall = max(r["wall"] for r in results.values())
    ms = np.concatenate([r["frame_ms"] for r in results.values()])
    first, last = [], []
    for r in results.values():
        t = np.array([x[0] for x in r["lags"]])
        lag = np.array([x[1] for x in r["lags"]])
        first.append(float(lag[t <= t[0] + 10].mean()))
        last.append(float(lag[t >= t[-1] - 10].mean()))
    keeps_up = max(last) < KEEP_UP_LAG_S and max(b - a for a, b in zip(first, last)) < KEEP_UP_GROWTH_S
    return {"name": f"cameras-{n}", "fps": round(frames / wall, 2), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "model": variant, "cameras": n,
            "seconds": round(wall, 1), "stream_fps_each": round(frames / wall / n, 2),
            "lag_first_10s_s": round(max(first), 3), "lag_last_10s_s": round(max(last), 3),
            "detector_frames": sum(r["detected"] for r in results.values()), "keeps_up": keeps_up}
