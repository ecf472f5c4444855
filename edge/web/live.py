"""What the dashboard shows live: each camera's check zone with the counted items
boxed, the tray on it, and a stream of verdict events for server-sent events.

The pipelines push verdicts (``on_verdict``); browsers subscribe through
``/api/events``. A subscriber that stops reading loses old events, never blocks
a pipeline.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from detectors.drawing import annotate
from detectors.zone import Zone
from edge.pipeline.verdicts import Verdict, banner_text
from edge.pipeline.view import LiveView
from edge.sources.frame import Frame
from orders.menu import Menu


def _offer(aq: asyncio.Queue, event: dict) -> None:
    """Put an event, dropping the oldest when a stalled browser's queue is full."""
    if aq.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            aq.get_nowait()
    aq.put_nowait(event)


@dataclass
class CameraStats:
    """When the hub first saw a camera: the system page's fps without the worker's own figure.
    (Reconnects are the camera worker's, ``reconnects_of``: only it sees a stream come back.)"""

    started: float = field(default_factory=time.monotonic)


class CameraHealthView(Protocol):
    """A camera's health checks as the dashboard reads them (``edge.pipeline.camera_health``)."""

    @property
    def current(self) -> dict: ...

    def relearn(self) -> None: ...


def health_text(current: dict) -> str | None:
    """None while every check is ok, else what the banner says: the camera cannot see, and why."""
    bad = [(name, c) for name, c in current["checks"].items() if c["state"] != "ok"]
    if not bad:
        return None
    bad.sort(key=lambda nc: nc[1]["state"] != "fault")
    what = "; ".join(f"{name.replace('_', ' ')}" + (f" ({c['reason']})" if c["reason"] else "") for name, c in bad)
    lead = "cannot check trays" if current["state"] == "fault" else "may not see well"
    return f"Camera {current['camera']} {lead}: {what}"


class Station(Protocol):
    """What the dashboard reads of a camera pipeline (``edge.pipeline.camera.CameraPipeline``): a Protocol,
    so the web never imports the pipeline's machinery."""

    @property
    def camera(self) -> str: ...

    @property
    def zone(self) -> Zone: ...

    @property
    def menu(self) -> Menu: ...

    @property
    def view(self) -> LiveView: ...

    @property
    def last_frame(self) -> Frame | None: ...

    @property
    def frames(self) -> int: ...

    @property
    def recent_detect_ms(self) -> Sequence[float]: ...

    @property
    def health(self) -> CameraHealthView: ...


class LiveHub:
    def __init__(self) -> None:
        self.pipelines: dict[str, Station] = {}
        self.stats: dict[str, CameraStats] = {}
        self._subs: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self._lock = threading.Lock()
        self._jpeg: dict[str, tuple[int, bytes]] = {}

    def attach(self, pipe: Station) -> None:
        self.pipelines[pipe.camera] = pipe
        self.stats.setdefault(pipe.camera, CameraStats())

    # -- verdict events ----------------------------------------------------------
    def on_verdict(self, v: Verdict, pipe: Station) -> None:
        event = dict(v.record(), banner=banner_text(v), published=time.time())
        with self._lock:
            subs = list(self._subs)
        for loop, aq in subs:
            try:
                loop.call_soon_threadsafe(_offer, aq, event)
            except RuntimeError:  # that browser's loop is gone
                self.unsubscribe(aq)

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue:
        """An asyncio queue the pipeline threads fill through the event loop: a browser's
        event stream wakes the moment a verdict is published, no polling delay."""
        aq: asyncio.Queue = asyncio.Queue(maxsize=100)
        with self._lock:
            self._subs.append((loop, aq))
        return aq

    def unsubscribe(self, aq: asyncio.Queue) -> None:
        with self._lock:
            self._subs = [(lp, q) for lp, q in self._subs if q is not aq]

    # -- pictures and state ----------------------------------------------------------
    def frame_jpeg(self, camera: str, quality: int = 70) -> bytes | None:
        """The check zone of the latest frame with the counted items boxed (cached per frame)."""
        pipe = self.pipelines.get(camera)
        view = pipe.view if pipe else None
        if pipe is None or view is None or view.frame is None:
            return None
        frame = view.frame
        cached = self._jpeg.get(camera)
        if cached and cached[0] == frame.index:
            return cached[1]
        img = annotate(frame.image, view.detections, view.classes)
        h, w = img.shape[:2]
        x0, y0, x1, y1 = pipe.zone.bbox(w, h)
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[y0:y1, x0:x1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            return None
        self._jpeg[camera] = (frame.index, buf.tobytes())
        return buf.tobytes()

    def state(self, camera: str) -> dict:
        """The tray at the station now: order, expected vs seen, latest verdict."""
        pipe = self.pipelines.get(camera)
        if pipe is None:
            return {"camera": camera, "known": False}
        view = pipe.view  # one frame's picture, whole
        health = pipe.health.current
        out: dict = {"camera": camera, "known": True, "state": view.state,
                     "frame_t": view.frame.t if view.frame else None, "tray": None,
                     "health": {"state": health["state"], "text": health_text(health)}}
        if view.tray_seq is not None:
            expected = {}
            if view.order is not None:
                with contextlib.suppress(Exception):  # (a menu switched a moment ago may lack an SKU)
                    expected = dict(sorted(pipe.menu.expected(view.order.order.lines()).items()))
            last = view.last_verdict
            out["tray"] = {"seq": view.tray_seq, "order_id": view.order.order.id if view.order else view.ticket,
                           "expected": expected, "seen": view.counts or {},
                           "verdict": last.verdict if last else None,
                           "banner": banner_text(last) if last else None}
        return out
