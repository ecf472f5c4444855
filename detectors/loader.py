"""The detector backends, registered in one place: ``type -> Backend`` (how to load a model file,
which files it runs, what it needs installed). The config's ``detector.type`` names one; without a
type, the model file's suffix picks the default (``.onnx`` -> onnx, ``.pt`` -> ultralytics)."""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from detectors.detections import ModelDetector
from detectors.model_info import resolve_model
from detectors.onnx_backend import OnnxDetector
from detectors.shared import SharedDetector
from edge.errors import InvalidInput


def _onnx(path: Path, threads: int, conf: float, iou: float, providers: list[str] | None,
          spin: bool, shared: bool) -> ModelDetector:
    cls = SharedDetector if shared else OnnxDetector
    return cls(path, conf=conf, iou=iou, threads=threads, providers=providers, spin=spin)


def _ultralytics(path: Path, threads: int, conf: float, iou: float, providers: list[str] | None,
                 spin: bool, shared: bool) -> ModelDetector:
    if providers:
        raise InvalidInput("the ultralytics backend runs on the CPU: providers are an onnx setting")
    from detectors.ultralytics_backend import UltralyticsDetector

    return UltralyticsDetector(path, conf=conf, iou=iou, threads=threads)


@dataclass(frozen=True)
class Backend:
    load: Callable[[Path, int, float, float, list[str] | None, bool, bool], ModelDetector]  # (.., spin, shared)
    suffix: str  # the model files it runs
    variants: tuple[str, ...]  # which file of a bundled model (``resolve_model``); the first is its default
    needs: str  # the module it imports (heavy: imported only when a model loads)
    install: str  # how to get that module


BACKENDS: dict[str, Backend] = {
    "onnx": Backend(_onnx, ".onnx", ("fp32", "int8"), "onnxruntime", "pip install onnxruntime"),
    "ultralytics": Backend(_ultralytics, ".pt", ("pt",), "ultralytics",
                           "the [train] extra: pip install -e '.[train]'"),
}


def backend_for(model: str | Path | None) -> str:
    """The default backend for a model reference: by its file suffix (a bundled name: onnx)."""
    suffix = Path(str(model)).suffix if model is not None else ""
    return next((name for name, b in BACKENDS.items() if b.suffix == suffix), "onnx")


def missing(backend: str) -> str | None:
    """Why ``backend`` cannot run here (unknown, or its module is not installed), or None."""
    b = BACKENDS.get(backend)
    if b is None:
        return f"unknown detector type {backend!r} (one of: {', '.join(BACKENDS)})"
    if importlib.util.find_spec(b.needs) is None:
        return f"the {backend} detector needs {b.needs}, which is not installed ({b.install})"
    return None


def load_detector(model: str | Path | None = None, variant: str = "fp32", backend: str | None = None,
                  threads: int = 2, conf: float = 0.25, iou: float = 0.7,
                  providers: list[str] | None = None, spin: bool = True, shared: bool = False) -> ModelDetector:
    """Load ``model`` (a file, a family path or a bundled name; None: the bundled default) with
    ``backend`` (None: by the file's suffix). ``variant`` picks a bundled model's file where the
    backend runs it (fp32/int8 for onnx), else the backend's own (pt for ultralytics). ``shared``: one
    model for many camera threads calling at once (``detectors.shared``; onnx only, ignored otherwise)."""
    if backend is not None:
        why = missing(backend)
        if why is not None:
            raise InvalidInput(why)
        b = BACKENDS[backend]
        path = resolve_model(model, variant if variant in b.variants else b.variants[0])
    else:
        path = resolve_model(model, variant)
        backend = backend_for(path)
        b = BACKENDS[backend]
    if path.suffix != b.suffix:
        raise InvalidInput(f"the {backend} backend needs a {b.suffix} model, got {path}")
    return b.load(path, threads, conf, iou, providers, spin, shared)
