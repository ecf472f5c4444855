"""Prometheus metrics (every series prefixed ``traycheck_``).

Counters of the hot path live in the pipeline as plain integers; this
collector reads them, and the service state, only when ``/metrics`` is scraped.
The detector latency histogram is the one thing observed per call. The dashboard's
failed sign-ins (``traycheck_signin_failed_total{reason}``) are registered on the same
registry by the web app that counts them (``edge.web.app.create_app``, collector in
``edge.web.login_limits``): the web layer cannot import this one.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.registry import Collector

from edge.app.metric_families import camera_metrics, intake_metrics, mqtt_metrics, storage_metrics


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
    """Reads the service at scrape time: the cameras' series, then storage, MQTT and MQTT intake."""

    def __init__(self, service: Observed):
        self.svc = service

    def collect(self) -> Iterator:
        yield from camera_metrics(self.svc.workers)
        yield from storage_metrics(self.svc.store, self.svc.recorder, self.svc.data_dir)
        if self.svc.publisher is not None:
            yield from mqtt_metrics(self.svc.publisher)
        intake = getattr(self.svc, "intake", None)
        if intake is not None:
            yield from intake_metrics(intake)


def make_registry(service: Observed) -> tuple[CollectorRegistry, Histogram]:
    reg = CollectorRegistry()
    reg.register(ServiceCollector(service))
    latency = Histogram("traycheck_detector_latency_seconds", "Detector time per frame", buckets=DETECT_BUCKETS,
                        registry=reg)
    return reg, latency
