"""Camera degradations of the scenario contract (gain, flicker, blur, noise, JPEG) and the camera
faults of the ``camera_events`` extension (cover, dark, blur, move; freeze is in shift.py: it repeats
a whole delivered frame).

A fault changes what reaches the sensor (an object in front of the lens, the scene shifted, less
light, a fogged lens); the sensor's own noise is added after it, as on a real camera, so only a
freeze gives identical frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from detectors.synth.scenario import LoadedScenario
from detectors.synth.scenario_schema import Camera, CameraEvent

DEFAULT_AMOUNT = {"cover": 0.85, "dark": 0.12, "blur": 0.8, "freeze": 0.0}  # move: 8 % of the width
MOVE_DEFAULT_FRACTION = 0.08
FOG_GREY = 190.0  # a steamed-up lens: light scattered to a pale grey


@dataclass(frozen=True)
class Fault:
    """One camera event resolved for rendering: its amount and its random draws (side, colour,
    direction), fixed per event so every frame of it looks the same apart from the noise."""

    kind: str
    amount: float
    side: int  # cover: 0 left, 1 right, 2 top, 3 bottom
    colour: tuple[float, float, float]  # cover: BGR of the cloth / tray stack
    shift: tuple[float, float]  # move: pixels
    angle: float  # move: degrees


def resolve(ev: CameraEvent, width: int, rng: np.random.Generator) -> Fault:
    """The event's amount (the kind's default when omitted) and its draws from ``rng``."""
    amount = ev.amount if ev.amount is not None else (
        MOVE_DEFAULT_FRACTION * width if ev.kind == "move" else DEFAULT_AMOUNT[ev.kind])
    side = int(rng.integers(0, 4))
    base = rng.uniform(40, 170)
    colour = (base * rng.uniform(0.8, 1.2), base * rng.uniform(0.8, 1.2), base * rng.uniform(0.8, 1.2))
    theta = rng.uniform(0, 2 * np.pi)
    angle = float(rng.uniform(-1.5, 1.5))
    return Fault(ev.kind, float(amount), side, colour, (amount * np.cos(theta), amount * np.sin(theta)), angle)


def resolved_faults(loaded: LoadedScenario) -> list[Fault]:
    """The scenario's camera events with their amounts and draws (stream ``[seed, 3, k]`` per event)."""
    s = loaded.scenario
    return [resolve(ev, s.video.width, np.random.default_rng([s.seed, 3, k])) for k, ev in enumerate(s.camera_events)]


def scene_fault(frame: np.ndarray, f: Fault) -> np.ndarray:
    """What reaches the lens (float32 0..255): the scene moved, or an object covering part of it."""
    h, w = frame.shape[:2]
    if f.kind == "move":
        m = cv2.getRotationMatrix2D((w / 2, h / 2), f.angle, 1.0)
        m[0, 2] += f.shift[0]
        m[1, 2] += f.shift[1]
        return cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if f.kind == "cover":
        out = frame.copy()
        horizontal = f.side < 2
        n = int(round(f.amount * (w if horizontal else h)))
        sl = (slice(None), slice(0, n)) if f.side == 0 else (slice(None), slice(w - n, w)) if f.side == 1 \
            else (slice(0, n), slice(None)) if f.side == 2 else (slice(h - n, h), slice(None))
        region = out[sl]
        # out of focus and close to the lens: one colour with a faint light falloff
        ramp = np.linspace(0.96, 1.04, region.shape[0], dtype=np.float32)[:, None, None]
        region[:] = np.asarray(f.colour, np.float32)[None, None, :] * ramp
        return out
    return frame


def lens_fault(frame: np.ndarray, f: Fault) -> np.ndarray:
    """Light and optics before the sensor's noise: less light (dark), a fogged blurred lens (blur)."""
    if f.kind == "dark":
        return frame * np.float32(f.amount)
    if f.kind == "blur":
        sigma = 1.0 + 7.0 * f.amount * frame.shape[1] / 640
        fog = np.float32(0.55 * f.amount)
        return cv2.GaussianBlur(frame, (0, 0), sigma) * (1 - fog) + fog * np.float32(FOG_GREY)
    return frame


def degrade(frame: np.ndarray, cam: Camera, rng: np.random.Generator, fault: Fault | None = None) -> np.ndarray:
    """Turn a float32 0..255 render into the uint8 BGR frame the camera would deliver."""
    if fault is not None:
        frame = lens_fault(scene_fault(frame, fault), fault)
    gain = cam.brightness
    if cam.flicker > 0:
        gain *= 1.0 + float(np.clip(rng.normal(0, cam.flicker / 2), -cam.flicker, cam.flicker))
    if gain != 1.0:
        frame = frame * np.float32(gain)
    if cam.blur > 0:
        k = cam.blur * 2 + 1
        frame = cv2.GaussianBlur(frame, (k, k), 0)
    if cam.noise > 0:
        frame = frame + rng.normal(0, cam.noise * 255, frame.shape).astype(np.float32)
    out = np.clip(frame, 0, 255).astype(np.uint8)
    if cam.jpeg_quality:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, cam.jpeg_quality])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out
