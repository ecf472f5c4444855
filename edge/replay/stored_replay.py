"""The stored replay engine: a shift through the appliance's own wiring (``Service``), with
its store, recorder, MQTT and HTTP (``traycheck replay --data-dir``)."""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from detectors.detections import ModelDetector
from edge.app.config import CameraConfig, Config, HttpConfig, MqttConfig
from edge.app.service import Service
from edge.core import console, progress_bar
from edge.errors import InvalidInput
from edge.replay.replay_hooks import HealthLog, PosScript, ReplayResult, replay_after
from edge.replay.replay_settings import StoredReplaySettings
from edge.replay.shift_input import shift_pos
from edge.replay.video import ReplayVideo
from edge.sources.capture import FileSource
from edge.sources.shift_files import PosEvent
from edge.sources.video_file import shift_video
from edge.store.store import OrderClosed
from orders.menu import Menu

log = logging.getLogger("traycheck.replay")


def replay_config(folder: Path, settings: StoredReplaySettings) -> Config:
    """The appliance config of a stored replay: the shift's video is the one camera."""
    from pydantic import ValidationError

    m, listen = settings.mqtt, settings.listen
    try:
        mqtt = None if m is None else MqttConfig(
            host=m.host, port=m.port, username=m.username, password=m.password,
            ca_file=m.ca_file, cert_file=m.cert_file, key_file=m.key_file)
        return Config(site=settings.site, data_dir=str(settings.data_dir), mqtt=mqtt,
                      cameras=[CameraConfig(name=settings.camera, source=str(shift_video(folder)),
                                            speed=settings.speed)],
                      http=HttpConfig(listen=f"{listen[0]}:{listen[1]}") if listen else HttpConfig())
    except ValidationError as exc:
        e = exc.errors()[0]
        where = {"site": "--site", "name": "--camera"}.get(str(e["loc"][-1]), ".".join(map(str, e["loc"])))
        raise InvalidInput(f"{where}: {e['msg'].removeprefix('Value error, ')} (got {e.get('input')!r})") from None


def replay_stored(folder: Path, detector: ModelDetector, settings: StoredReplaySettings,
                  menu: Menu | None = None) -> ReplayResult:
    """The shift through the appliance's one wiring (``edge.app.service.Service``): the same store,
    recorder, MQTT, order registry, metrics and HTTP endpoints as ``traycheck run``, with the
    shift's video as the camera and its ``pos.jsonl`` as the POS, at the shift's stream times."""
    events, menu = shift_pos(folder, detector, menu)
    svc = Service(replay_config(folder, settings), run_id=f"replay:{folder.name}", detector=detector, menu=menu,
                  serve_http=settings.listen is not None, restore_orders=False, once=True, stored_reference=False)
    worker, pipe = svc.workers[0], svc.workers[0].pipeline
    health = HealthLog(settings.health_log)
    health(pipe.health.current)
    svc.health_listeners.append(health)
    records: list[dict] = []
    frame_ms: list[float] = []
    svc.verdict_listeners.append(lambda v, _pipe: records.append(v.record()))
    v = FileSource(shift_video(folder), None).video  # (its size, rate and length)
    v.cap.release()
    video = ReplayVideo(Path(settings.video_out), v.width, v.height, v.fps) if settings.video_out else None
    t0 = time.perf_counter()
    try:
        with progress_bar(f"Replaying {folder.name}", v.frame_count) as advance:
            worker.before_frame = PosScript(events, _hand_over(svc, settings.camera))
            worker.after_frame = replay_after(frame_ms, video, pipe, advance)
            _run_to_end(svc, settings.listen)
        pipe.finish(worker.last_t or 0.0)
        svc.recorder.flush(60.0)  # a fast replay may be ahead of the disk: every verdict stored before stop
    finally:
        health.close()
        if video is not None:
            video.close()
        _say_if_unsent(svc, settings)
        svc.stop(flush_s=10.0)
    if worker.failed_frames:
        raise RuntimeError(f"replay: {worker.failed_frames} frames failed in the pipeline (see the log above)")
    return ReplayResult(records, pipe.frames, pipe.detected_frames, pipe.unchecked, time.perf_counter() - t0,
                        frame_ms, health.changes)


def _hand_over(svc: Service, camera: str) -> Callable[[PosEvent], None]:
    """The POS script's hand-over, as the POS API does it: store the order, then route it."""
    def hand_over(ev: PosEvent) -> None:
        try:
            svc.store.put_order(ev.order, camera, source="replay")
        except OrderClosed:  # the same shift replayed again into its data dir (after a crash): its verdicts
            pass  # have stable ids, so checking its trays again stores nothing twice
        except (sqlite3.Error, OSError) as exc:  # a full disk must not end the shift: checked now, stored later
            log.warning("replay: order %s not stored yet (%s): the recorder stores it when it can", ev.order.id, exc)
            svc.recorder.store_order(ev.order, camera, "replay")
        svc.route_order(ev.order, camera, ev.t)
    return hand_over


def _run_to_end(svc: Service, listen: tuple[str, int] | None) -> None:
    """Start the service and wait until its one camera reached the end of the shift's video."""
    svc.start()
    if listen:
        console.print(f"dashboard and HTTP API on http://{listen[0]}:{listen[1]} (health: /healthz)")
    while not svc.workers[0].finished.wait(0.2):
        pass


def _say_if_unsent(svc: Service, settings: StoredReplaySettings) -> None:
    """Messages the broker never took stay in the database: say so, and where."""
    m = settings.mqtt
    if m is not None and svc.publisher and not svc.publisher.connected.wait(timeout=2.0):
        console.print(f"MQTT broker {m.host}:{m.port} did not answer: "
                      f"{svc.store.outbox_len()} messages kept in {settings.data_dir / 'traycheck.db'}; "
                      "the next process started on this data directory delivers them")
