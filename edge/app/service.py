"""The one wiring of the appliance: cameras, one shared detector, the order registry of
all stations, storage, MQTT and the HTTP API, built from one config. ``traycheck run``
runs it with the config's live cameras until SIGTERM/SIGINT; ``traycheck replay
--data-dir`` runs the very same object with a recorded shift as its camera and the
shift's POS script feeding orders at their stream times (``edge.replay.stored_replay``).

One thread per camera runs its pipeline on the newest frames; the ONNX session
is shared (it is thread-safe, and on a 2-core box two sessions would only
fight for the same cores). Shutdown stops the cameras, flushes the outbox
while the broker answers, publishes ``offline`` and closes the database.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from detectors.detections import ModelDetector
from detectors.model_info import family_name
from detectors.zone import Zone
from edge.app.active_model import ActiveModel
from edge.app.camera_worker import CameraWorker
from edge.app.cameras import Cameras
from edge.app.config import CameraConfig, Config
from edge.app.config_reload import reload_target, reloaded_config
from edge.app.health import Health, utcnow_iso
from edge.app.metrics import make_registry
from edge.app.model_store import config_menu
from edge.app.mqtt import MqttSettings, Publisher
from edge.app.mqtt_intake import box_client_id
from edge.app.notify import notify, watchdog_interval
from edge.app.order_intake import CurrentMenu, IntakeCounts, take_mqtt_order
from edge.app.recorder import Recorder
from edge.app.service_web import service_web
from edge.app.station_health import camera_health
from edge.pipeline.camera import CameraPipeline
from edge.store.snapshots import SnapshotWriter
from edge.store.store import Store
from edge.web.live import LiveHub
from edge.web.server import WebServer
from edge.web.system_info import system_info
from orders.menu import Menu
from orders.models import Order
from orders.registry import ClosedOrder, OrderRegistry

log = logging.getLogger("traycheck.service")


class Service:
    """The appliance, wired once from a config; see the module docstring."""

    def __init__(self, cfg: Config, config_path: Path | None = None, *, run_id: str | None = None,
                 detector: ModelDetector | None = None, menu: Menu | None = None, serve_http: bool = True,
                 restore_orders: bool = True, once: bool = False, stored_reference: bool = True):
        """``detector``/``menu``: already loaded and checked (replay); ``serve_http=False``: no HTTP
        server; ``restore_orders=False``: pending orders of earlier runs stay in the database only
        (a replay's POS script is the whole truth); ``once``: file cameras end at end of file;
        ``stored_reference=False``: camera health reference views are learned afresh and not kept (replay)."""
        self.cfg = cfg
        self.config_path = config_path
        self._reload, self._stop = threading.Event(), threading.Event()  # SIGHUP, SIGTERM/SIGINT
        self.data_dir = Path(cfg.data_dir)
        self.run_id = run_id or "run:" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        # the model first: its classes are the ones the menu may name (refused before anything opens)
        self.model = ActiveModel.load(cfg) if detector is None else ActiveModel.given(detector, cfg)
        self.menu = menu if menu is not None else config_menu(cfg, self.detector, config_path)
        self.verdict_listeners: list = []  # more callables (verdict, pipeline) after storage (replay's record)
        self.health_listeners: list = []  # more callables (camera health change) (replay's --health)
        self.stored_reference = stored_reference
        self._open_storage_and_mqtt()
        self.orders = OrderRegistry(cfg.orders.expire_minutes * 60, on_closed=self._on_closed)
        if restore_orders:
            for order, camera in self.store.pending_orders_routed():  # orders accepted before a restart
                self.orders.add(order, camera if camera in self.camera_names else None, 0.0)
            self.orders.set_aside(self.menu.__contains__)  # the menu may have changed meanwhile
        self.hub = LiveHub()
        self.workers = Cameras(self._camera(cam, once) for cam in cfg.cameras)
        self.health = Health(lambda: self.recorder.problem, self.workers,
                             self.publisher.publish_health if self.publisher else None)
        self.recorder.on_problem = self.health.on_storage_problem
        self.registry, latency = make_registry(self)
        for w in self.workers:
            w.pipeline.observe_latency = latency.observe
        self.web = self._web() if serve_http else None

    def _open_storage_and_mqtt(self) -> None:
        cfg = self.cfg
        self.store = Store(self.data_dir / "traycheck.db", site=cfg.site, outbox=cfg.mqtt is not None)
        self.snapshots = SnapshotWriter(self.data_dir / "snapshots", cfg.retention.min_free_mb)
        self.publisher = None
        self.intake = IntakeCounts()
        if m := cfg.mqtt:
            subs = {m.orders_topic: self._on_mqtt_order} if m.orders_topic else {}
            client_id = m.client_id or box_client_id(cfg.site, self.data_dir)
            self.publisher = Publisher(MqttSettings.from_config(m, cfg.site, client_id), self.store, subs)
        self.recorder = Recorder(self.store, self.snapshots, self.publisher, self.run_id)

    def _camera(self, cam: CameraConfig, once: bool) -> CameraWorker[CameraPipeline]:
        pipe = CameraPipeline(cam.name, self.detector, self.menu, self.orders.station(cam.name),
                              self._on_verdict, Zone(cam.zone), params=cam.params(), run=self.run_id,
                              health=camera_health(cam.name, self.data_dir if self.stored_reference else None,
                                                   self._on_camera_health))
        self.hub.attach(pipe)
        return CameraWorker(cam.name, cam.source, cam.speed, pipe, once=once)

    def _web(self) -> WebServer:
        def system() -> dict:  # the dashboard's system page, read when it is shown
            return system_info(self.hub, self.store, self.publisher, self.model.describe(), self.data_dir,
                               fps_of=self.workers.fps, reconnects_of=self.workers.reconnects, recorder=self.recorder,
                               state_of=self.workers.state, model_figures=self.model.figures())
        return service_web(self.cfg, self.store, self.hub, system, CurrentMenu(lambda: self.menu), self.registry,
                           on_order=self.route_order, on_cancel=self.orders.cancel, ready=self.ready)

    @property
    def detector(self) -> ModelDetector:
        return self.model.detector

    @property
    def camera_names(self) -> list[str]:
        return [c.name for c in self.cfg.cameras]

    def _on_verdict(self, v, pipe: CameraPipeline) -> None:
        self.recorder(v, pipe)  # kept first (memory, never blocks): stored by the recorder's writer thread
        self.hub.on_verdict(v, pipe)
        for listener in self.verdict_listeners:
            listener(v, pipe)

    def _on_closed(self, closed: ClosedOrder) -> None:
        """An order left the registry without a verdict (expired, set aside, served by an earlier tray):
        the recorder's writer thread stores the transition (never the calling camera thread)."""
        log.log(logging.WARNING if closed.status == "cancelled" else logging.INFO, "order %s %s",
                closed.order.id, closed.reason)
        self.recorder.close_order(closed)

    def _on_camera_health(self, change: dict) -> None:
        """A camera's health changed (its thread): retained on MQTT, and to the listeners."""
        if self.publisher is not None:
            self.publisher.publish_camera_health(change["camera"], dict(change, schema=1, at=utcnow_iso()))
        for listener in self.health_listeners:
            listener(change)

    # -- orders from the API or MQTT ----------------------------------------------
    def route_order(self, order: Order, camera: str | None, t: float | None = None) -> None:
        """Hand an accepted order to the stations: for ``camera``, or any station when None. The caller
        has stored it first (the POS API, MQTT intake, a replay's POS script): a restart restores it.
        ``t``: its stream time (a replay's script); None: received now, dated by its station's stream."""
        self.orders.add(order, camera, self.workers.stream_time(camera) if t is None else t)

    def _on_mqtt_order(self, topic: str, payload: bytes) -> bool:
        """Store and route one POS order from MQTT (the intake thread); False: not stored, keep it unacknowledged."""
        taken = take_mqtt_order(topic, payload, self.menu, self.camera_names, self.store, self.intake)
        if taken.order is not None:
            self.route_order(taken.order, taken.camera)
        return taken.settled

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        self.start_io()
        self.start_cameras()

    def start_io(self) -> None:
        """HTTP and MQTT: the box takes orders from here on."""
        if self.web is not None:
            self.web.start()
        if self.publisher:
            self.publisher.start()

    def start_cameras(self) -> None:
        self.workers.start()
        log.info("traycheck running: %d cameras, HTTP on %s", len(self.workers), self.cfg.http.listen)

    def retention(self) -> None:
        removed = self.snapshots.delete(self.store.purge(self.cfg.retention.days,
                                                         session_idle_s=self.cfg.http.session_idle_minutes * 60))
        if removed:
            log.info("retention: %d old snapshots removed", removed)

    def ready(self) -> dict:
        """Readiness: the model is loaded, every camera is ok (frames flowing) and verdicts are
        being stored. Each camera's state, reason and since-when is in ``camera_state``."""
        cams = self.workers.readiness()
        storage = self.recorder.problem  # verdicts that cannot be stored: not ready, whatever the cameras do
        return {**cams, "ready": cams["ready"] and storage is None,
                "model": str(getattr(self.detector, "path", "")), "storage": storage or "ok",
                "verdicts_unstored": self.recorder.pending}

    def healthy(self, stall_s: float = 20.0) -> bool:
        """No camera is stuck (see ``CameraWorker.stuck``): a stuck one stops the watchdog pings,
        a camera waiting for its source to come back does not."""
        return self.workers.healthy(stall_s)

    def wait(self) -> None:
        every = self.cfg.retention.every_minutes * 60
        next_purge = time.monotonic()
        ping = watchdog_interval()
        notify("READY=1\nSTATUS=checking trays")
        while not self._stop.is_set():
            if time.monotonic() >= next_purge:
                self.retention()
                next_purge = time.monotonic() + every
            self.orders.expire()  # (also checked whenever a station looks for an order)
            self.health.publish()
            self.workers.report_frames()
            if ping and self.healthy():
                notify("WATCHDOG=1")
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            self._stop.wait(min(1.0, ping or 1.0))
        notify("STOPPING=1")

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def request_reload(self, *_: object) -> None:
        self._reload.set()

    def reload(self) -> None:
        """SIGHUP: re-read the config and the active-model pointer; apply the menu, the model, retention
        and the log level. What is refused keeps the running config and model (``config_reload``)."""
        if self.config_path is None:
            return
        target = reload_target(self.config_path, self.model)
        if target is None:
            return
        new, model, menu = target
        for w in self.workers:
            w.pipeline.switch_model(model.detector, menu)
        self.orders.set_aside(menu.__contains__)  # orders the new menu cannot check: set aside, logged
        if model.detector is not self.detector:
            log.info("model switched to %s (%s); the cameras change over between frames",
                     family_name(model.detector.path), model.detector.path)
        self.model, self.menu = model, menu
        logging.getLogger().setLevel(new.log_level.upper())
        self.cfg = reloaded_config(self.cfg, new)
        log.info("reloaded %s (menu, model, retention, log level)", self.config_path)

    def stop(self, flush_s: float = 5.0) -> None:
        self.workers.stop()
        self.recorder.close(timeout=10.0)  # the verdicts still in memory go to disk (and so to the outbox)
        made = sum(sum(w.pipeline.verdict_counts.values()) for w in self.workers)
        log.info("stopping: %d verdicts made, %d stored, %d unstored, %d dropped (memory queue full)", made,
                 self.recorder.stored, self.recorder.pending, self.recorder.dropped)
        if self.publisher:
            self.publisher.stop(flush_s=flush_s)
        if self.web is not None:
            self.web.stop()
        self.store.close()
