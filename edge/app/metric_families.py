"""The metric families of one scrape, by what they describe: the cameras, storage, the MQTT link
and the orders taken over MQTT (``edge.app.metrics.ServiceCollector`` yields them)."""
from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from edge.pipeline.health_checks import STATES as HEALTH_LEVELS
from edge.sources.camera_state import STATES


def _per_camera(kind: type, name: str, doc: str, *labels: str) -> Any:
    return kind(name, doc, labels=["camera", *labels])


def camera_metrics(workers: Iterable[Any]) -> Iterator:
    """Per camera (CameraWorker: name, pipeline, fps(), state(), reconnects, dropped): frames, detector
    frames, fps, reconnects, drops, state, verdicts and health checks."""
    frames = _per_camera(CounterMetricFamily, "traycheck_frames", "Frames processed")
    det = _per_camera(CounterMetricFamily, "traycheck_detector_frames", "Frames the detector ran on")
    skipped = _per_camera(CounterMetricFamily, "traycheck_skipped_frames", "Frames the gate let pass without "
                          "detection")
    fps = _per_camera(GaugeMetricFamily, "traycheck_camera_fps", "Frames per second over the last minute")
    rec = _per_camera(CounterMetricFamily, "traycheck_camera_reconnects", "Times a camera was lost (stream ended, "
                      "file gone)")
    dropped = _per_camera(CounterMetricFamily, "traycheck_frames_dropped", "Frames dropped because the camera was "
                          "behind (never queued)")
    up = _per_camera(GaugeMetricFamily, "traycheck_camera_up", "1 while the camera delivers frames (state ok)")
    cam_state = _per_camera(GaugeMetricFamily, "traycheck_camera_state", "1 for the camera's current state", "state")
    verdicts = _per_camera(CounterMetricFamily, "traycheck_verdicts", "Verdicts emitted", "verdict")
    health = _per_camera(GaugeMetricFamily, "traycheck_camera_health", "Camera health check: 0 ok, 1 warning, "
                         "2 fault", "check")
    for w in workers:
        pipe = w.pipeline
        frames.add_metric([w.name], pipe.frames)
        det.add_metric([w.name], pipe.detected_frames)
        skipped.add_metric([w.name], pipe.frames - pipe.detected_frames)
        fps.add_metric([w.name], w.fps())
        rec.add_metric([w.name], w.reconnects)
        dropped.add_metric([w.name], w.dropped)
        now = w.state()["state"]
        up.add_metric([w.name], int(now == "ok"))
        for st in STATES:
            cam_state.add_metric([w.name, st], int(now == st))
        for kind, n in sorted(pipe.verdict_counts.items()):
            verdicts.add_metric([w.name, kind], n)
        for check, c in pipe.health.current["checks"].items():
            health.add_metric([w.name, check], HEALTH_LEVELS.index(c["state"]))
    yield from (frames, det, skipped, fps, rec, dropped, up, cam_state, verdicts, health)


def storage_metrics(store: Any, recorder: Any, data_dir: Path) -> Iterator:
    """The outbox, open alerts, the recorder's state and the data disk's free space."""
    yield GaugeMetricFamily("traycheck_outbox_length", "MQTT messages waiting for the broker",
                            value=store.outbox_len())
    yield GaugeMetricFamily("traycheck_alerts_open", "Open alerts", value=store.open_alerts())
    yield GaugeMetricFamily("traycheck_storage_ok", "1 while verdicts can be stored",
                            value=int(recorder.problem is None))
    yield GaugeMetricFamily("traycheck_verdicts_unstored", "Verdicts kept in memory, not stored yet",
                            value=recorder.pending)
    yield CounterMetricFamily("traycheck_verdicts_dropped", "Verdicts lost: the memory queue was full",
                              value=recorder.dropped)
    yield CounterMetricFamily("traycheck_verdicts_set_aside", "Verdicts given up on an error that is not the "
                              "disk's (a schema or program fault; logged in full)", value=recorder.set_aside)
    yield GaugeMetricFamily("traycheck_storage_free_bytes", "Free bytes on the data directory's disk",
                            value=shutil.disk_usage(data_dir).free)


def mqtt_metrics(publisher: Any) -> Iterator:
    """The broker link (only with a broker configured)."""
    yield GaugeMetricFamily("traycheck_mqtt_connected", "1 while connected to the broker",
                            value=int(publisher.connected.is_set()))
    yield CounterMetricFamily("traycheck_mqtt_reconnects", "Broker connections lost", value=publisher.reconnects)
    yield GaugeMetricFamily("traycheck_mqtt_orders_unsettled", "POS orders received over MQTT, not stored "
                            "(so not acknowledged) yet", value=publisher.intake.unsettled)


def intake_metrics(intake: Any) -> Iterator:
    """The POS orders taken over MQTT: refused by reason, and stored."""
    refused = CounterMetricFamily("traycheck_mqtt_orders_refused", "POS orders over MQTT refused, by reason "
                                  "(invalid, unknown_sku, camera, closed: re-sent after the box closed it)",
                                  labels=["reason"])
    for reason, n in sorted(intake.refused.items()):
        refused.add_metric([reason], n)
    yield refused
    yield CounterMetricFamily("traycheck_mqtt_orders_stored", "POS orders over MQTT stored", value=intake.stored)
