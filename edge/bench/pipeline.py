"""Bench rows for the whole pipeline: ``pipeline`` (a fixture replayed at max speed)
and ``idle`` (an empty station at 15 fps in real time, with its CPU share)."""
from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

from detectors.loader import load_detector
from detectors.synth.scenario import parse_scenario
from detectors.synth.shift import render_shift
from edge.bench.stats import latency_row
from edge.pipeline.camera import CameraPipeline
from edge.pipeline.loop import FrameLoop
from edge.replay.runner import replay_folder
from edge.sources.capture import FileSource
from orders.menu import Menu
from orders.queue import OrderQueue

IDLE_SCENARIO = "name: idle-station\nseed: 1\ntrays: []\n"


def _row(name: str, frames: int, seconds: float, frame_ms: list[float]) -> dict:
    return dict(latency_row(name, frame_ms or [0.0]), fps=round(frames / seconds, 2))


def bench_pipeline(fixture: Path, model: str | None, threads: int) -> dict:
    det = load_detector(model, "fp32", threads=threads)
    r = replay_folder(fixture, det, None, progress=False)
    row = _row("pipeline", r.frames, r.seconds, r.frame_ms)
    row["detector_frames"] = r.detected_frames
    return row


def bench_idle(model: str | None, threads: int, seconds: float = 20.0) -> dict:
    """CPU share of one camera watching an empty station in real time (decode included)."""
    det = load_detector(model, "fp32", threads=threads)
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
