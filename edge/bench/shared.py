"""Bench row ``shared-detector``: the throughput of the one model the cameras share
(``detectors.shared.SharedDetector``) with 1 and with 2 camera threads calling it at once, and
of the alternative it replaced (one session with every core, its callers taking turns), and of
one caller on the 1-thread session (whether a lone camera is right to take every core).

All three take turns in rounds on the same frames, as the detector rows do, so a slow moment
of this shared host hits them alike. ``speedup_2_vs_1`` compares the same detector with the
same frames: it is the figure that says whether concurrency pays.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from detectors.detections import Detector
from detectors.loader import load_detector
from edge.bench.detectors import SETTLE_S, WARMUP


def _throughput(detect: Callable[[np.ndarray], object], frames: list[np.ndarray], callers: int,
                seconds: float, lat_ms: list[float]) -> float:
    """Frames per second of ``callers`` threads calling ``detect`` over ``frames`` for ``seconds``."""
    done = [0] * callers
    stop_at = time.monotonic() + seconds

    def work(k: int) -> None:
        i = k
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            detect(frames[i % len(frames)])
            lat_ms.append((time.perf_counter() - t0) * 1000)
            done[k] += 1
            i += callers
    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(callers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


def bench_shared(frames: list[np.ndarray], model: str | None, variant: str, threads: int,
                 seconds: float = 12.0, rounds: int = 3) -> dict:
    shared = load_detector(model, variant, threads=threads, shared=True)
    whole: Detector = load_detector(model, variant, threads=threads)
    lock = threading.Lock()

    def in_turn(frame: np.ndarray) -> object:
        with lock:
            return whole.detect(frame)

    for f in frames[:WARMUP]:
        shared.detect(f)
        whole.detect(f)
    narrow = getattr(shared, "narrow", shared)  # the 1-thread session (SharedDetector; else the same model)
    plan = {"one": (shared.detect, 1), "two": (shared.detect, 2), "turns": (in_turn, 2), "one_core": (narrow.detect, 1)}
    fps: dict[str, list[float]] = {k: [] for k in plan}
    lat: dict[str, list[float]] = {k: [] for k in plan}
    for _ in range(rounds):
        for key, (detect, callers) in plan.items():
            time.sleep(SETTLE_S)
            fps[key].append(_throughput(detect, frames, callers, seconds / rounds, lat[key]))
    one, two, turns, one_core = (float(np.mean(fps[k])) for k in ("one", "two", "turns", "one_core"))
    return {"name": "shared-detector", "fps": round(two, 2), "p50_ms": round(float(np.percentile(lat["two"], 50)), 2),
            "p95_ms": round(float(np.percentile(lat["two"], 95)), 2), "model": variant, "callers": 2,
            "fps_1_caller": round(one, 2), "speedup_2_vs_1": round(two / one, 3) if one else None,
            "fps_2_callers_one_session_in_turn": round(turns, 2),
            "fps_1_caller_one_core": round(one_core, 2)}  # is a lone caller right to take every core?
