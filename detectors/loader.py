"""Pick a backend for a model file: ``.onnx`` -> ONNX Runtime, ``.pt`` -> ultralytics."""
from __future__ import annotations

from pathlib import Path

from detectors.detections import ModelDetector
from detectors.model_info import resolve_model
from edge.core import UserError


def load_detector(model: str | Path | None = None, variant: str = "fp32", backend: str | None = None,
                  threads: int = 2, conf: float = 0.25, iou: float = 0.7,
                  providers: list[str] | None = None, spin: bool = True) -> ModelDetector:
    path = resolve_model(model, "pt" if backend == "ultralytics" and model is None else variant)
    backend = backend or ("ultralytics" if path.suffix == ".pt" else "onnx")
    if backend == "onnx":
        if path.suffix != ".onnx":
            raise UserError(f"the onnx backend needs a .onnx model, got {path}")
        from detectors.onnx_backend import OnnxDetector

        return OnnxDetector(path, conf=conf, iou=iou, threads=threads, providers=providers, spin=spin)
    if backend == "ultralytics":
        from detectors.ultralytics_backend import UltralyticsDetector

        return UltralyticsDetector(path, conf=conf, iou=iou, threads=threads)
    raise UserError(f"unknown detector backend {backend!r} (onnx or ultralytics)")
