"""Camera health in the service: owns stored references, no_frames and calibrate; not the checks themselves.

The appliance's side of camera health (the checks are ``edge.pipeline.health_checks``, their
states ``edge.pipeline.camera_health``): each camera's reference view kept in the data directory,
the capture layer's state as the ``no_frames`` check, and ``traycheck camera calibrate``."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.errors import InvalidInput
from edge.pipeline.camera_health import CameraHealth
from edge.pipeline.health_checks import FAULT, OK, WARNING
from edge.pipeline.reference_view import ReferenceView, reference_path, small_grey
from edge.sources.camera_state import FAILED, NOT_OPENED
from edge.sources.camera_state import OK as CAMERA_OK

log = logging.getLogger("traycheck.health")


def camera_health(camera: str, data_dir: Path | None, on_change: Callable[[dict[str, Any]], None]) -> CameraHealth:
    """A camera's health checks with its stored reference (``data_dir`` None: learned afresh, not kept)."""
    if data_dir is None:
        return CameraHealth(camera, on_change=on_change)
    path = reference_path(data_dir, camera)
    reference = ReferenceView.load(path)
    if reference is None:
        log.info("camera %s: no reference view stored yet; learning it from the first idle seconds", camera)

    def keep(ref: ReferenceView) -> None:
        try:
            ref.save(path)
        except OSError as exc:  # the checks go on with the one in memory
            log.error("camera %s: could not store the reference view in %s: %s", camera, path, exc)
    return CameraHealth(camera, reference, on_change=on_change, on_learned=keep)


def no_frames(state: dict[str, Any]) -> tuple[str, str | None]:
    """A camera worker's state (ok / reconnecting / failed) as the ``no_frames`` check."""
    if state["state"] == CAMERA_OK:
        return OK, None
    if state.get("reason") == NOT_OPENED and state["state"] != FAILED:
        return OK, None  # starting: no frame yet is no news (one that never opens turns failed: a fault)
    return (FAULT if state["state"] == FAILED else WARNING), state.get("reason") or state["state"]


def reference_row(data_dir: Path, camera: str) -> tuple[bool, str]:
    """``doctor``'s row: whether a reference view is stored, and what it says."""
    path = reference_path(data_dir, camera)
    if not path.exists():
        return True, "not stored yet: learned from the first idle seconds after start"
    ref = ReferenceView.load(path)
    if ref is None:
        return False, f"{path} cannot be read: delete it or run 'traycheck camera calibrate {camera}'"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
    return True, (f"stored {when}: brightness {ref.brightness:.0f}, sharpness {ref.sharpness:.0f}, "
                  f"{len(ref.points)} keypoints")


def calibrate(source_ref: str, data_dir: Path, camera: str, seconds: float = 3.0) -> ReferenceView:
    """Capture the reference view now from the camera's source (the station must be empty)."""
    import threading

    from edge.sources.capture import open_source

    src = open_source(source_ref, None)
    greys = []
    timer = threading.Timer(seconds + 10.0, lambda: src.stop(join_s=0))  # a stream that never delivers
    timer.start()
    try:
        start = None
        for frame in src.frames():
            start = frame.t if start is None else start
            greys.append(small_grey(frame.image))
            if frame.t - start >= seconds or len(greys) >= 200:
                break
    finally:
        timer.cancel()
        src.stop()
    if not greys:
        raise InvalidInput(f"camera {camera}: {source_ref} delivered no frame")
    ref = ReferenceView.from_greys(greys[:: max(1, len(greys) // 15)])
    ref.save(reference_path(data_dir, camera))
    return ref
