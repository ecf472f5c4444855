"""Bench rows ``cameras-N``: N cameras in one process, each replaying a busy fixture in real
time (15 fps) through its own pipeline, all sharing one model (``SharedDetector``, as
``traycheck run`` does). A camera that falls behind drops late frames (never queues them), as
the service's cameras do.

Lag of a frame = wall time when the pipeline finished it - wall time it was due (its stream
time after the camera started). ``lag_start_s``/``lag_end_s``: the mean lag over the first and
the last window of the run (10 s, or a quarter of a short run), the worst camera's. A row keeps
up when no camera's lag grows (end <= start + 0.1 s) and at most 1 % of frames were dropped.
Verdict latency = wall time a verdict was emitted - wall time its frame was due.
``accuracy``: the trays every camera saw whole (left the counter before its run ended), scored
as ``traycheck eval`` scores them (first verdict's kind and order, final verdict), all cameras
pooled; ``accuracy_min`` the worst camera's.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from detectors.detections import Detector
from detectors.loader import load_detector
from edge.bench.stats import rss_mb
from edge.pipeline.camera import CameraPipeline
from edge.pipeline.loop import FrameLoop
from edge.replay.evaluate import score_shift
from edge.replay.runner import PosScript, shift_menu
from edge.replay.truth import shift_truth
from edge.sources.capture import FileSource
from edge.sources.frame import Frame
from edge.sources.shift_files import read_pos
from edge.sources.video_file import shift_video
from orders.queue import OrderQueue

KEEP_UP_GROWTH_S = 0.1  # a camera's lag at the end may exceed its lag at the start by this much
KEEP_UP_DROPPED = 0.01  # and at most this fraction of its frames dropped


def _camera(i: int, folder: Path, det: Detector, seconds: float, out: dict, start: threading.Event) -> None:
    menu = shift_menu(folder)
    events = read_pos(folder / "pos.jsonl")
    queue = OrderQueue()
    clock = {"t0": 0.0}
    verdict_s: list[float] = []
    records: list[dict] = []

    def on_verdict(v, pipe: CameraPipeline) -> None:
        verdict_s.append(time.monotonic() - (clock["t0"] + v.video_t))
        records.append(v.record())
    pipe = CameraPipeline(f"bench-{i}", det, menu, queue, on_verdict, run=f"bench:{i}")
    source = FileSource(shift_video(folder), speed=1.0, drop_late=True)
    lags: list[tuple[float, float]] = []
    frame_ms: list[float] = []

    def after(frame: Frame, took: float) -> None:
        frame_ms.append(took * 1000)
        lags.append((frame.t, time.monotonic() - (clock["t0"] + frame.t)))

    loop = FrameLoop(pipe, f"bench-{i}", before=PosScript(events, lambda ev: queue.add(ev.order, ev.t)), after=after)
    start.wait()
    clock["t0"] = t0 = time.monotonic()
    loop.run(source.frames(), until=lambda: time.monotonic() - t0 >= seconds)
    source.stop()
    out[i] = {"lags": lags, "frame_ms": frame_ms, "frames": len(lags), "dropped": source.dropped,
              "detected": pipe.detected_frames, "verdict_s": verdict_s, "wall": time.monotonic() - t0,
              "right": _right_trays(folder, menu, records, loop.last_t or 0.0)}


def _right_trays(folder: Path, menu, records: list[dict], reached_t: float) -> list[bool]:
    """Per tray the camera saw whole (left before ``reached_t``): both its verdicts right."""
    truth, _ = shift_truth(folder, menu)
    rows = score_shift(folder, records, menu)["trays"]
    return [r["initial_right"] and r["final_right"] for tr, r in zip(truth, rows) if tr["leave_t"] + 1.0 <= reached_t]


def _window_means(lags: list[tuple[float, float]], window: float) -> tuple[float, float]:
    t = np.array([x[0] for x in lags])
    lag = np.array([x[1] for x in lags])
    return float(lag[t <= t[0] + window].mean()), float(lag[t >= t[-1] - window].mean())


def bench_cameras(fixtures: list[Path], n: int, model: str | None, variant: str, threads: int,
                  seconds: float = 30.0, detector: Detector | None = None) -> dict:
    """``detector``: the shared model to use (one for every row of a run), else one is loaded."""
    det = detector or load_detector(model, variant, threads=threads, shared=True)
    cams, peak = _run_cameras(fixtures, n, det, seconds)
    row = _timing(cams, n, variant, seconds)
    keeps_up = row.pop("keeps_up")  # (the row's keys in their documented order: accuracy, then keeps_up)
    return dict(row, **_accuracy(cams), keeps_up=keeps_up, rss_mb=round(peak, 1))


def _run_cameras(fixtures: list[Path], n: int, det: Detector, seconds: float) -> tuple[list[dict], float]:
    """N camera threads started at once; each one's figures, and the peak resident memory while they ran."""
    start = threading.Event()
    results: dict[int, dict] = {}
    workers = [threading.Thread(target=_camera, args=(i, fixtures[i % len(fixtures)], det, seconds, results, start),
                                daemon=True, name=f"bench camera {i}") for i in range(n)]
    for w in workers:
        w.start()
    start.set()
    peak = rss_mb()
    for w in workers:
        while w.is_alive():
            w.join(timeout=0.5)
            peak = max(peak, rss_mb())
    if len(results) < n:
        raise RuntimeError(f"cameras-{n}: {n - len(results)} camera thread(s) failed (see the log)")
    return [results[i] for i in range(n)], peak


def _timing(cams: list[dict], n: int, variant: str, seconds: float) -> dict:
    """The row's speed, lag, drops and verdict latency, and whether every camera keeps up."""
    window = min(10.0, seconds / 4)
    ends = [_window_means(r["lags"], window) for r in cams]
    frames = sum(r["frames"] for r in cams)
    dropped = sum(r["dropped"] for r in cams)
    wall = max(r["wall"] for r in cams)
    ms = np.concatenate([r["frame_ms"] for r in cams])
    verdict_s = [s for r in cams for s in r["verdict_s"]]
    dropped_fraction = dropped / max(frames + dropped, 1)
    growth = max(b - a for a, b in ends)
    return {"name": f"cameras-{n}", "fps": round(frames / wall, 2), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "model": variant, "cameras": n,
            "seconds": round(wall, 1), "fps_each": [round(r["frames"] / r["wall"], 2) for r in cams],
            "dropped": dropped, "dropped_fraction": round(dropped_fraction, 4),
            "lag_start_s": round(max(a for a, _ in ends), 3), "lag_end_s": round(max(b for _, b in ends), 3),
            "lag_growth_s": round(growth, 3),
            "latency_p95_s": round(float(np.percentile(verdict_s, 95)), 3) if verdict_s else None,
            "verdicts": len(verdict_s), "detector_frames": sum(r["detected"] for r in cams),
            "keeps_up": bool(growth <= KEEP_UP_GROWTH_S and dropped_fraction <= KEEP_UP_DROPPED)}


def _accuracy(cams: list[dict]) -> dict:
    """The trays every camera saw whole, pooled; ``accuracy_min``: the worst camera's."""
    right = [x for r in cams for x in r["right"]]
    each = [sum(r["right"]) / len(r["right"]) for r in cams if r["right"]]
    return {"trays_scored": len(right), "accuracy": round(sum(right) / len(right), 4) if right else None,
            "accuracy_min": round(min(each), 4) if each else None}
