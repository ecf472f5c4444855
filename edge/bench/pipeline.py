"""Bench rows for the whole pipeline: ``pipeline`` (the detector rows' frames through a warm
camera pipeline: what the pipeline adds per detected frame) and ``idle`` (an empty station at
15 fps in real time, with its CPU share)."""
from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from detectors.loader import load_detector
from detectors.synth.scenario import parse_scenario
from detectors.synth.shift import render_shift
from edge.bench.detectors import WARMUP
from edge.bench.stats import latency_row
from edge.pipeline.camera import CameraPipeline
from edge.pipeline.loop import FrameLoop
from edge.sources.capture import FileSource
from edge.sources.frame import Frame
from orders.menu import Menu
from orders.queue import OrderQueue

IDLE_SCENARIO = "name: idle-station\nseed: 1\ntrays: []\n"


def _row(name: str, frames: int, seconds: float, frame_ms: list[float]) -> dict:
    return dict(latency_row(name, frame_ms or [0.0]), fps=round(frames / seconds, 2))


def bench_pipeline(frames: list[np.ndarray], model: str | None, variant: str, threads: int) -> dict:
    """The detector rows' frames (a stretch of 15 fps stream) through a camera pipeline with a warm
    detector, loaded as the service loads it (one shared model). ``overhead_ms``: the pipeline's
    time per detected frame beyond the detector's own (gate, tracker, tickets, association,
    verdicts; the frames the detector skips included);
    ``overhead_fraction``: that over the detector's median latency in the same run. ``ticket_ms``:
    the part of the overhead spent reading QR tickets, per detected frame (``ticket_reads`` reads).
    ``overhead_ms_per_frame``: the same time over every frame: the fewer frames need the detector,
    the larger ``overhead_ms`` gets while this one (what a camera costs beyond its detector) falls."""
    det = load_detector(model, variant, threads=threads, shared=True)
    for f in frames[:WARMUP]:
        det.detect(f)
    pipe = CameraPipeline("bench", det, Menu(), OrderQueue(), lambda v, p: None)
    detect_ms: list[float] = []
    pipe.observe_latency = lambda s: detect_ms.append(s * 1000)
    ticket_ms: list[float] = []  # QR reads: part of the overhead, shown apart (see below)
    read = pipe.tickets.reader.read

    def timed_read(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return read(*args, **kwargs)
        finally:
            ticket_ms.append((time.perf_counter() - t0) * 1000)
    setattr(pipe.tickets.reader, "read", timed_read)
    frame_ms: list[float] = []
    loop = FrameLoop(pipe, "bench", after=lambda frame, took: frame_ms.append(took * 1000))
    loop.run(Frame(i, i / 15, f) for i, f in enumerate(frames))
    row = _row("pipeline", loop.frames, sum(frame_ms) / 1000, frame_ms)
    det_p50 = float(np.percentile(detect_ms, 50)) if detect_ms else 0.0
    beyond = sum(frame_ms) - sum(detect_ms)  # what the pipeline adds to its detector calls
    overhead = beyond / max(len(detect_ms), 1)
    row.update(model=variant, detector_frames=pipe.detected_frames, detector_p50_ms=round(det_p50, 2),
               overhead_ms=round(overhead, 2), overhead_fraction=round(overhead / det_p50, 3) if det_p50 else None,
               overhead_ms_per_frame=round(beyond / max(len(frame_ms), 1), 2),
               ticket_reads=len(ticket_ms), ticket_ms=round(sum(ticket_ms) / max(len(detect_ms), 1), 2))
    return row


def bench_idle(model: str | None, variant: str, threads: int, seconds: float = 20.0) -> dict:
    """CPU share of one camera watching an empty station in real time (decode included)."""
    det = load_detector(model, variant, threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = render_shift(parse_scenario(IDLE_SCENARIO), Path(tmp) / "idle")  # 5 s of empty counter
        pipe = CameraPipeline("idle", det, Menu(), OrderQueue(), lambda v, p: None)
        frame_ms: list[float] = []
        ru0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        loop = FrameLoop(pipe, "idle", after=lambda frame, took: frame_ms.append(took * 1000))
        t_floor = 0.0
        while time.monotonic() - w0 < seconds:  # the 5 s clip again and again, its clock going on
            loop.run(FileSource(folder / "video.mp4", speed=1.0, t_floor=t_floor).frames(),
                     until=lambda: time.monotonic() - w0 >= seconds)
            t_floor = (loop.last_t or 0.0) + 1 / 15
        n = loop.frames
        ru1, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - w0
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    row = _row("idle", n, wall, frame_ms)
    row["cpu_percent"] = round(100.0 * cpu / wall, 2)  # of one core
    row["detector_frames"] = pipe.detected_frames
    return row
