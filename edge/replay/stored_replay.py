"""The stored replay engine: a shift through the appliance's own wiring (``Service``), with
its store, recorder, MQTT and HTTP (``traycheck replay --data-dir``)."""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from detectors.detections import ModelDetector
from edge.app.config import CameraConfig, Config, HttpConfig, MqttConfig
from edge.app.mqtt import MqttSettings
from edge.app.service import Service
from edge.core import console, progress_bar
from edge.errors import InvalidInput
from edge.replay.replay_hooks import HealthLog, PosScript, ReplayResult, replay_after
from edge.replay.shift_input import shift_pos
from edge.replay.video import ReplayVideo
from edge.sources.capture import FileSource
from edge.sources.shift_files import PosEvent
from edge.sources.video_file import shift_video
from edge.store.store import OrderClosed
from orders.menu import Menu

log = logging.getLogger("traycheck.replay")


def replay_config(folder: Path, speed: float | None, data_dir: Path, settings, site: str, camera: str,
                  listen: tuple[str, int] | None) -> Config:
    """The appliance config of a stored replay: the shift's video is the one camera."""
    from pydantic import ValidationError

    try:
        mqtt = None if settings is None else MqttConfig(
            host=settings.host, port=settings.port, username=settings.username, password=settings.password,
            ca_file=settings.ca_file, cert_file=settings.cert_file, key_file=settings.key_file)
        return Config(site=site, data_dir=str(data_dir), mqtt=mqtt,
                      cameras=[CameraConfig(name=camera, source=str(shift_video(folder)), speed=speed)],
                      http=HttpConfig(listen=f"{listen[0]}:{listen[1]}") if listen else HttpConfig())
    except ValidationError as exc:
        e = exc.errors()[0]
        where = {"site": "--site", "name": "--camera"}.get(str(e["loc"][-1]), ".".join(map(str, e["loc"])))
        raise InvalidInput(f"{where}: {e['msg'].removeprefix('Value error, ')} (got {e.get('input')!r})") from None


def _say_if_unsent(svc: Service, settings: MqttSettings | None, data_dir: Path) -> None:
    if settings is not None and svc.publisher and not svc.publisher.connected.wait(timeout=2.0):
        console.print(f"MQTT broker {settings.host}:{settings.port} did not answer: "
                      f"{svc.store.outbox_len()} messages kept in {data_dir / 'traycheck.db'}; "
                      "the next process started on this data directory delivers them")


def replay_stored(folder: Path, detector: ModelDetector, speed: float | None, data_dir: Path,
                   settings, site: str, camera: str, listen: tuple[str, int] | None,
                   video_out: Path | None = None, menu: Menu | None = None,
                   health_log: Path | None = None) -> ReplayResult:
    """The shift through the appliance's one wiring (``edge.app.service.Service``): the same store,
    recorder, MQTT, order registry, metrics and HTTP endpoints as ``traycheck run``, with the
    shift's video as the camera and its ``pos.jsonl`` as the POS, at the shift's stream times."""
    import time

    events, menu = shift_pos(folder, detector, menu)
    cfg = replay_config(folder, speed, data_dir, settings, site, camera, listen)
    svc = Service(cfg, run_id=f"replay:{folder.name}", detector=detector, menu=menu, serve_http=listen is not None,
                  restore_orders=False, once=True, stored_reference=False)
    worker = svc.workers[0]
    pipe = worker.pipeline
    health = HealthLog(health_log)
    health(pipe.health.current)
    svc.health_listeners.append(health)
    records: list[dict] = []
    frame_ms: list[float] = []
    svc.verdict_listeners.append(lambda v, _pipe: records.append(v.record()))

    def hand_over(ev: PosEvent) -> None:  # what the POS API does: store the order, then route it
        try:
            svc.store.put_order(ev.order, camera, source="replay")
        except OrderClosed:  # the same shift replayed again into its data dir (after a crash): its verdicts
            pass  # have stable ids, so checking its trays again stores nothing twice
        except (sqlite3.Error, OSError) as exc:  # a full disk must not end the shift: checked now, stored later
            log.warning("replay: order %s not stored yet (%s): the recorder stores it when it can", ev.order.id, exc)
            svc.recorder.store_order(ev.order, camera, "replay")
        svc._route_order(ev.order, camera, ev.t)

    v = FileSource(shift_video(folder), None).video  # (its size, rate and length)
    v.cap.release()
    video = ReplayVideo(Path(video_out), v.width, v.height, v.fps) if video_out is not None else None
    t0 = time.perf_counter()
    try:
        with progress_bar(f"Replaying {folder.name}", v.frame_count) as advance:
            worker.before_frame = PosScript(events, hand_over)
            worker.after_frame = replay_after(frame_ms, video, pipe, advance)
            svc.start()
            if listen:
                console.print(f"dashboard and HTTP API on http://{listen[0]}:{listen[1]} (health: /healthz)")
            while not worker.finished.wait(0.2):
                pass
        pipe.finish(worker.last_t or 0.0)
        svc.recorder.flush(60.0)  # a fast replay may be ahead of the disk: every verdict stored before stop
    finally:
        health.close()
        if video is not None:
            video.close()
        _say_if_unsent(svc, settings, data_dir)
        svc.stop(flush_s=10.0)
    if worker.failed_frames:
        raise RuntimeError(f"replay: {worker.failed_frames} frames failed in the pipeline (see the log above)")
    return ReplayResult(records, pipe.frames, pipe.detected_frames, pipe.unchecked, time.perf_counter() - t0,
                        frame_ms, health.changes)
