"""The plain replay engine: a shift through one ``CameraPipeline`` with an in-memory order
queue; nothing stored (``traycheck replay`` without ``--data-dir``, eval, bench)."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from detectors.detections import ModelDetector
from edge.core import progress_bar
from edge.pipeline.camera import CameraPipeline
from edge.pipeline.camera_health import CameraHealth
from edge.pipeline.loop import FrameLoop
from edge.pipeline.verdicts import Verdict
from edge.replay.replay_hooks import HealthLog, PosScript, ReplayResult, replay_after
from edge.replay.shift_input import shift_pos
from edge.replay.video import ReplayVideo
from edge.sources.capture import FileSource
from edge.sources.shift_files import PosEvent
from edge.sources.video_file import shift_video
from orders.menu import Menu
from orders.queue import OrderQueue


def replay_folder(folder: Path, detector: ModelDetector, speed: float | None = None, camera: str = "expo-1",
                  on_verdict: Callable[[Verdict, CameraPipeline], None] | None = None,
                  progress: bool = True, run_id: str | None = None,
                  on_order: Callable[[PosEvent], None] | None = None,
                  queue: OrderQueue | None = None, video_out: Path | None = None,
                  on_start: Callable[[CameraPipeline], None] | None = None,
                  menu: Menu | None = None, *, health_log: Path | None = None,
                  drop_late: bool = False) -> ReplayResult:
    """``health_log``: a JSON line per camera health change (the first state included) is written there.
    ``drop_late`` (with a ``speed``): frames that come too late are skipped, as a live camera's are."""
    events, menu = shift_pos(folder, detector, menu)
    source = FileSource(shift_video(folder), speed, drop_late=drop_late)
    queue = queue if queue is not None else OrderQueue()
    records: list[dict] = []
    health = HealthLog(health_log)
    pipe = CameraPipeline(camera, detector, menu, queue, _collector(records, on_verdict),
                          run=run_id or f"replay:{folder.name}", health=CameraHealth(camera, on_change=health))
    health(pipe.health.current)
    if on_start is not None:
        on_start(pipe)
    v = source.video
    video = ReplayVideo(Path(video_out), v.width, v.height, v.fps) if video_out is not None else None
    t0 = time.perf_counter()
    frame_ms: list[float] = []
    with progress_bar(f"Replaying {folder.name}", v.frame_count if progress else None) as advance:
        loop = FrameLoop(pipe, camera, before=PosScript(events, _to_queue(queue, on_order)),
                         after=replay_after(frame_ms, video, pipe, advance if progress else None))
        try:
            loop.run(source.frames())
        finally:
            health.close()
    pipe.finish(loop.last_t or 0.0)
    if video is not None:
        video.close()
    return ReplayResult(records, pipe.frames, pipe.detected_frames, pipe.unchecked, time.perf_counter() - t0,
                        frame_ms, health.changes, source.dropped)


def _collector(records: list[dict], on_verdict: Callable[[Verdict, CameraPipeline], None] | None
               ) -> Callable[[Verdict, CameraPipeline], None]:
    """The pipeline's verdict hook: each record kept for the result, then handed to ``on_verdict``."""
    def collect(v: Verdict, pipe: CameraPipeline) -> None:
        records.append(v.record())
        if on_verdict:
            on_verdict(v, pipe)
    return collect


def _to_queue(queue: OrderQueue, on_order: Callable[[PosEvent], None] | None) -> Callable[[PosEvent], None]:
    """The POS script's hand-over: the order into the station's queue at its stream time, then ``on_order``."""
    def hand_over(ev: PosEvent) -> None:
        queue.add(ev.order, ev.t)
        if on_order:
            on_order(ev)
    return hand_over
