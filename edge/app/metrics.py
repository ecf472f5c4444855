"""Prometheus metrics (every series prefixed ``traycheck_``).

Counters of the hot path live in the pipeline as plain integers; this
collector reads them, and the service state, only when ``/metrics`` is scraped.
The detector latency histogram is the one thing observed per call. The dashboard's
failed sign-ins (``traycheck_signin_failed_total{reason}``) are registered on the same
registry by the web app that counts them (``edge.web.app.create_app``, collector in
``edge.web.login_limits``): the web layer cannot import this one.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from edge.pipeline.health_checks import STATES as HEALTH_LEVELS
from edge.sources.camera_state import STATES


class Observed(Protocol):
    """What the collector reads from the appliance (``edge.app.service.Service``) at scrape time:
    ``workers`` (CameraWorker: name, pipeline, fps(), state(), reconnects, dropped), ``store``,
    ``data_dir``, ``publisher`` (None without a broker) and ``recorder``."""

    workers: Any
    store: Any
    data_dir: Any
    publisher: Any
    recorder: Any


DETECT_BUCKETS = (0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5)


class ServiceCollector(Collector):
    def __init__(self, service: Observed):
        self.svc = service

    def collect(self) -> Iterator:
        frames = CounterMetricFamily("traycheck_frames", "Frames processed", labels=["camera"])
        det = CounterMetricFamily("traycheck_detector_frames", "Frames the detector ran on", labels=["camera"])
        skipped = CounterMetricFamily("traycheck_skipped_frames", "Frames the gate let pass without detection",
                                      labels=["camera"])
        fps = GaugeMetricFamily("traycheck_camera_fps", "Frames per second over the last minute", labels=["camera"])
        rec = CounterMetricFamily("traycheck_camera_reconnects", "Times a camera was lost (stream ended, file gone)",
                                  labels=["camera"])
        dropped = CounterMetricFamily("traycheck_frames_dropped", "Frames dropped because the camera was behind "
                                      "(never queued)", labels=["camera"])
        up = GaugeMetricFamily("traycheck_camera_up", "1 while the camera delivers frames (state ok)",
                               labels=["camera"])
        cam_state = GaugeMetricFamily("traycheck_camera_state", "1 for the camera's current state",
                                      labels=["camera", "state"])
        verdicts = CounterMetricFamily("traycheck_verdicts", "Verdicts emitted", labels=["camera", "verdict"])
        health = GaugeMetricFamily("traycheck_camera_health", "Camera health check: 0 ok, 1 warning, 2 fault",
                                   labels=["camera", "check"])
        for w in self.svc.workers:
            p = w.pipeline
            frames.add_metric([w.name], p.frames)
            det.add_metric([w.name], p.detected_frames)
            skipped.add_metric([w.name], p.frames - p.detected_frames)
            fps.add_metric([w.name], w.fps())
            rec.add_metric([w.name], w.reconnects)
            dropped.add_metric([w.name], w.dropped)
            now = w.state()["state"]
            up.add_metric([w.name], int(now == "ok"))
            for st in STATES:
                cam_state.add_metric([w.name, st], int(now == st))
            for kind, n in sorted(p.verdict_counts.items()):
                verdicts.add_metric([w.name, kind], n)
            for check, c in p.health.current["checks"].items():
                health.add_metric([w.name, check], HEALTH_LEVELS.index(c["state"]))
        yield from (frames, det, skipped, fps, rec, dropped, up, cam_state, verdicts, health)
        store = self.svc.store
        yield GaugeMetricFamily("traycheck_outbox_length", "MQTT messages waiting for the broker",
                                value=store.outbox_len())
        yield GaugeMetricFamily("traycheck_alerts_open", "Open alerts", value=store.open_alerts())
        recorder = self.svc.recorder
        yield GaugeMetricFamily("traycheck_storage_ok", "1 while verdicts can be stored",
                                value=int(recorder.problem is None))
        yield GaugeMetricFamily("traycheck_verdicts_unstored", "Verdicts kept in memory, not stored yet",
                                value=recorder.pending)
        yield CounterMetricFamily("traycheck_verdicts_dropped", "Verdicts lost: the memory queue was full",
                                  value=recorder.dropped)
        yield CounterMetricFamily("traycheck_verdicts_set_aside", "Verdicts given up on an error that is not the "
                                  "disk's (a schema or program fault; logged in full)", value=recorder.set_aside)
        yield GaugeMetricFamily("traycheck_storage_free_bytes", "Free bytes on the data directory's disk",
                                value=shutil.disk_usage(self.svc.data_dir).free)
        if self.svc.publisher is not None:
            yield GaugeMetricFamily("traycheck_mqtt_connected", "1 while connected to the broker",
                                    value=int(self.svc.publisher.connected.is_set()))
            yield CounterMetricFamily("traycheck_mqtt_reconnects", "Broker connections lost",
                                      value=self.svc.publisher.reconnects)
            yield GaugeMetricFamily("traycheck_mqtt_orders_unsettled", "POS orders received over MQTT, not stored "
                                    "(so not acknowledged) yet", value=self.svc.publisher.intake.unsettled)
        intake = getattr(self.svc, "intake", None)
        if intake is not None:
            refused = CounterMetricFamily("traycheck_mqtt_orders_refused", "POS orders over MQTT refused, by reason "
                                          "(invalid, unknown_sku, camera, closed: re-sent after the box closed it)",
                                          labels=["reason"])
            for reason, n in sorted(intake.refused.items()):
                refused.add_metric([reason], n)
            yield refused
            yield CounterMetricFamily("traycheck_mqtt_orders_stored", "POS orders over MQTT stored",
                                      value=intake.stored)


def make_registry(service: Observed) -> tuple[CollectorRegistry, Histogram]:
    reg = CollectorRegistry()
    reg.register(ServiceCollector(service))
    latency = Histogram("traycheck_detector_latency_seconds", "Detector time per frame", buckets=DETECT_BUCKETS,
                        registry=reg)
    return reg, latency
