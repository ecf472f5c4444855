"""Camera degradations of the scenario contract: gain, flicker, blur, noise, JPEG."""
from __future__ import annotations

import cv2
import numpy as np

from detectors.synth.scenario import Camera


def degrade(frame: np.ndarray, cam: Camera, rng: np.random.Generator) -> np.ndarray:
    """Turn a float32 0..255 render into the uint8 BGR frame the camera would deliver."""
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
