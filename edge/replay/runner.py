"""``traycheck replay``: the verification pipeline over a recorded shift.

The shift's video is the camera and its ``pos.jsonl`` the POS: each order is
handed to the pipeline when the stream reaches its time. A scenario file is
rendered to a temporary shift first. The menu is the shift's (its scenario.yaml
may name one) or ``--menu``; either must name only the model's classes.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from detectors.detections import Detector, ModelDetector
from detectors.loader import load_detector
from detectors.model_info import model_label
from detectors.synth.scenario import load_scenario
from detectors.synth.shift import ShiftRenderer, render_shift
from edge.app.config import CameraConfig, Config, HttpConfig, MqttConfig
from edge.app.mqtt import MqttSettings
from edge.app.service import Service
from edge.core import UserError, console, progress_bar
from edge.pipeline.camera import CameraPipeline
from edge.pipeline.camera_health import CameraHealth
from edge.pipeline.loop import FrameLoop
from edge.pipeline.verdicts import Verdict
from edge.replay.video import ReplayVideo
from edge.sources.capture import FileSource, Frame
from edge.sources.shift_files import PosEvent, read_pos
from edge.sources.video_file import shift_video
from edge.store.store import OrderClosed
from edge.web.server import parse_listen
from orders.menu import Menu, load_menu
from orders.queue import OrderQueue

log = logging.getLogger("traycheck.replay")


@dataclass
class ReplayResult:
    verdicts: list[dict]
    frames: int
    detected_frames: int
    unchecked: int
    seconds: float
    frame_ms: list[float]  # pipeline time per frame (decoding not included)
    health: list[dict] = field(default_factory=list)  # camera health changes, the first state included
    dropped: int = 0  # late frames skipped (``drop_late``)


def shift_menu(folder: Path) -> Menu:
    sc = folder / "scenario.yaml"
    if sc.is_file():
        try:
            ref = (yaml.safe_load(sc.read_text()) or {}).get("menu", "default")
        except yaml.YAMLError:
            ref = "default"
        return load_menu(ref, folder)
    return Menu()


def prepare(source: Path, tmp: Path) -> Path:
    """A shift folder for ``source``: itself, or a scenario file rendered into ``tmp``."""
    source = Path(source)
    if source.is_dir():
        return source
    if source.suffix in (".yaml", ".yml"):
        loaded = load_scenario(source)
        with progress_bar(f"Rendering {loaded.scenario.name}", ShiftRenderer(loaded).n_frames) as advance:
            return render_shift(loaded, tmp / loaded.scenario.name, advance)
    if not source.exists():
        raise UserError(f"{source}: no such file or folder")
    raise UserError(f"{source}: expected a recorded shift folder or a scenario .yaml")


def checked_menu(folder: Path, detector: Detector, menu: Menu | None = None) -> Menu:
    """``menu`` (from --menu) or the shift's own, checked against the model's classes."""
    own = menu is None
    menu = shift_menu(folder) if menu is None else menu
    try:
        menu.check_classes(detector.classes, model_label(detector))
    except UserError as exc:
        raise UserError(f"{exc}{' (--menu FILE replays with another menu)' if own else ''}") from None
    return menu


class HealthLog:
    """The ``--health FILE.jsonl`` of a replay: one line per change of a camera's health (the
    interface's change object), written as it happens so a long replay can be watched."""

    def __init__(self, path: Path | None):
        self.changes: list[dict] = []
        self.file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = path.open("w")

    def __call__(self, change: dict) -> None:
        self.changes.append(change)
        if self.file is not None:
            self.file.write(json.dumps(change) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class PosScript:
    """A recorded shift's POS: hands each order over when the stream reaches its time (the
    ``before`` hook of the frame loop)."""

    def __init__(self, events: list[PosEvent], hand_over: Callable[[PosEvent], object]):
        self.events = events
        self.hand_over = hand_over
        self.next = 0

    def __call__(self, frame: Frame) -> None:
        while self.next < len(self.events) and self.events[self.next].t <= frame.t:
            self.hand_over(self.events[self.next])
            self.next += 1


def replay_after(frame_ms: list[float], video: ReplayVideo | None, pipe: CameraPipeline,
                 advance: Callable[[int], None] | None) -> Callable[[Frame, float], None]:
    """The ``after`` hook of a replay's frame loop: pipeline time, the annotated video, progress."""
    def after(frame: Frame, seconds: float) -> None:
        frame_ms.append(seconds * 1000)
        if video is not None:
            video(frame, pipe)
        if advance is not None:
            advance(1)
    return after


def replay_folder(folder: Path, detector: ModelDetector, speed: float | None = None, camera: str = "expo-1",
                  on_verdict: Callable[[Verdict, CameraPipeline], None] | None = None,
                  progress: bool = True, run: str | None = None,
                  on_order: Callable[[PosEvent], None] | None = None,
                  queue: OrderQueue | None = None, video_out: Path | None = None,
                  on_start: Callable[[CameraPipeline], None] | None = None,
                  menu: Menu | None = None, *, health_log: Path | None = None,
                  drop_late: bool = False) -> ReplayResult:
    """``health_log``: a JSON line per camera health change (the first state included) is written there.
    ``drop_late`` (with a ``speed``): frames that come too late are skipped, as a live camera's are."""
    import time

    events, menu = shift_pos(folder, detector, menu)
    source = FileSource(shift_video(folder), speed, drop_late=drop_late)
    queue = queue if queue is not None else OrderQueue()
    records: list[dict] = []

    def collect(v: Verdict, pipe: CameraPipeline) -> None:
        records.append(v.record())
        if on_verdict:
            on_verdict(v, pipe)

    health = HealthLog(health_log)
    pipe = CameraPipeline(camera, detector, menu, queue, collect, run=run or f"replay:{folder.name}",
                          health=CameraHealth(camera, on_change=health))
    health(pipe.health.current)
    if on_start is not None:
        on_start(pipe)
    video = None
    if video_out is not None:
        v = source.video
        video = ReplayVideo(Path(video_out), v.width, v.height, v.fps)
    def hand_over(ev: PosEvent) -> None:
        queue.add(ev.order, ev.t)
        if on_order:
            on_order(ev)

    t0 = time.perf_counter()
    frame_ms: list[float] = []
    with progress_bar(f"Replaying {folder.name}", source.video.frame_count if progress else None) as advance:
        loop = FrameLoop(pipe, camera, before=PosScript(events, hand_over),
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


def run_replay(source: Path, speed: float | None, verdicts_path: Path | None, model: str | None = None,
               variant: str = "fp32", threads: int = 2, data_dir: Path | None = None, mqtt_url: str | None = None,
               site: str = "site", camera: str = "expo-1", http: str | None = None,
               video_out: Path | None = None, menu_file: Path | None = None,
               health_log: Path | None = None) -> ReplayResult:
    """Replay a shift; with ``data_dir`` store everything, with ``mqtt_url`` also publish (store-and-forward)."""
    settings = MqttSettings.from_url(mqtt_url, site) if mqtt_url else None  # bad URL: fail before any work
    listen = parse_listen(http) if http else None
    if data_dir is not None:
        try:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--data-dir {data_dir}: cannot create it ({exc.strerror or exc})") from None
    menu = load_menu(menu_file) if menu_file is not None else None
    detector = load_detector(model, variant, threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = prepare(source, Path(tmp))
        menu = checked_menu(folder, detector, menu)  # before a database or a server is opened
        if data_dir is None:
            result = replay_folder(folder, detector, speed, camera=camera, video_out=video_out, menu=menu,
                                   health_log=health_log)
        else:
            result = _replay_stored(folder, detector, speed, Path(data_dir), settings, site, camera, listen,
                                    video_out, menu, health_log)
    if verdicts_path is not None:
        verdicts_path.parent.mkdir(parents=True, exist_ok=True)
        verdicts_path.write_text("".join(json.dumps(r) + "\n" for r in result.verdicts))
    return result


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
        raise UserError(f"{where}: {e['msg'].removeprefix('Value error, ')} (got {e.get('input')!r})") from None


def shift_pos(folder: Path, detector: ModelDetector, menu: Menu | None) -> tuple[list[PosEvent], Menu]:
    """The shift's POS events and its menu (checked against the model); an unknown SKU is bad
    input, found before anything runs."""
    events = read_pos(folder / "pos.jsonl")
    menu = checked_menu(folder, detector, menu)
    for ev in events:
        for sku, _ in ev.order.lines():
            menu.classes_of(sku)
    return events, menu


def _say_if_unsent(svc: Service, settings: MqttSettings | None, data_dir: Path) -> None:
    if settings is not None and svc.publisher and not svc.publisher.connected.wait(timeout=2.0):
        console.print(f"MQTT broker {settings.host}:{settings.port} did not answer: "
                      f"{svc.store.outbox_len()} messages kept in {data_dir / 'traycheck.db'}; "
                      "the next process started on this data directory delivers them")


def _replay_stored(folder: Path, detector: ModelDetector, speed: float | None, data_dir: Path,
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
