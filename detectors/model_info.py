"""Model metadata: the ``<name>.json`` beside each committed model, and model lookup.

The JSON says what the weights mean (``classes`` in class-id order, input
size) and how they were made and scored, so a model file is never used with
the wrong class list.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.errors import InvalidInput, TrayCheckError

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "traycheck-v8n"


def resolve_model(ref: str | Path | None, variant: str = "fp32") -> Path:
    """A model path from a file path, a bundled model name, or None (the default model).

    ``variant`` picks the file of a bundled model: fp32 (.onnx), int8 (.int8.onnx) or pt.
    """
    ref = DEFAULT_MODEL if ref is None else ref
    p = Path(ref)
    if p.suffix in (".onnx", ".pt"):
        if not p.is_file():
            raise InvalidInput(f"model file {p}: not found")
        return p
    suffix = {"fp32": ".onnx", "int8": ".int8.onnx", "pt": ".pt"}[variant]
    # a bare name is a bundled model; a path without suffix names a model family elsewhere
    cand = Path(f"{ref}{suffix}") if ("/" in str(ref)) else MODELS_DIR / f"{ref}{suffix}"
    if not cand.is_file():
        raise InvalidInput(f"model {ref!r} ({variant}): {cand} not found")
    return cand


def metadata_path(model: Path) -> Path:
    name = model.name
    for suffix in (".int8.onnx", ".onnx", ".pt"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return model.with_name(name + ".json")


def read_json_file(path: Path, what: str = "") -> dict:
    """A JSON file beside a model or a dataset: {} when it is not there, one clear error when it
    cannot be read."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{what}{path}: unreadable ({exc})") from None


def load_metadata(model: Path) -> dict:
    """The metadata JSON of a model file ({} when there is none beside it)."""
    return read_json_file(metadata_path(model), "model metadata ")


def model_classes(model: Path) -> tuple[str, ...]:
    """The class list of a model file, from its metadata JSON.

    InvalidInput naming the file when there is none: a model's class ids mean nothing without it,
    and guessing a list (the demo model's, say) would count burgers as whatever id 0 really is."""
    path = metadata_path(Path(model))
    if not path.is_file():
        raise InvalidInput(f"model file {model}: no metadata {path.name} beside it naming its classes")
    return parse_classes(read_json_file(path, "model metadata "), f"model metadata {path}")


def parse_classes(meta: object, where: str) -> tuple[str, ...]:
    """``classes`` of a metadata dict: distinct non-empty names in class-id order, else InvalidInput."""
    classes = meta.get("classes") if isinstance(meta, dict) else None
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes) \
            or len(set(classes)) != len(classes):
        raise InvalidInput(f"{where}: classes: expected a list of distinct class names in class-id order")
    return tuple(classes)


def lookalike_pairs(meta: dict, classes: Sequence[str], where: str) -> tuple[tuple[str, str], ...]:
    """``lookalikes`` of a metadata dict: pairs of the model's classes it mistakes for each other
    (``export`` derives them from its confusion matrix); none when the metadata has none. A kitchen
    handing out one for the other is one mistake, not two (``orders.matching.mistakes``)."""
    raw = meta.get("lookalikes", [])
    known = set(classes)
    if not isinstance(raw, list) or not all(isinstance(p, list) and len(p) == 2 and p[0] != p[1]
                                            and all(isinstance(c, str) and c in known for c in p) for p in raw):
        raise InvalidInput(f"{where}: lookalikes: expected a list of pairs of two of its classes, "
                           f"e.g. [[\"{classes[0]}\", \"{classes[-1]}\"]]")
    return tuple((str(a), str(b)) for a, b in raw)


def family_name(model: Path) -> str:
    """``dir/NAME.int8.onnx`` -> ``NAME``: the name a model family goes by in messages and pointers."""
    return metadata_path(Path(model)).name.removesuffix(".json")


def model_label(detector: object) -> str:
    """``model NAME`` for a loaded detector (its file's family name), for menu errors."""
    path = getattr(detector, "path", None)
    return f"model {family_name(Path(path))}" if path else "the model"


INT8_MAP50_TOLERANCE = 0.01  # INT8 is the default where its mAP50 is within this of fp32's


def int8_choice(ref: str | Path | None) -> tuple[bool, str]:
    """Whether a model family (bundled name, family path; None: the default model) should run its
    INT8 file by default, and why: its metadata (``metrics.fp32/int8.mAP50``, written by
    ``model export``) shows INT8 within ``INT8_MAP50_TOLERANCE`` of fp32 mAP50. INT8 runs about 2x
    faster on a CPU, so a model that loses nothing by it should not pay for fp32."""
    try:
        fp32 = resolve_model(ref, "fp32")
        resolve_model(ref, "int8")
    except TrayCheckError as exc:
        return False, f"fp32: no INT8 file to choose ({exc})"
    metrics = load_metadata(fp32).get("metrics") or {}
    try:
        a, b = float(metrics["fp32"]["mAP50"]), float(metrics["int8"]["mAP50"])
    except (KeyError, TypeError, ValueError):
        return False, f"fp32: {metadata_path(fp32).name} has no fp32 and INT8 mAP50 to compare"
    if a - b <= INT8_MAP50_TOLERANCE:
        return True, f"INT8: its mAP50 {b:.4f} is within {INT8_MAP50_TOLERANCE} of fp32's {a:.4f}"
    return False, f"fp32: INT8 mAP50 {b:.4f} is more than {INT8_MAP50_TOLERANCE} below fp32's {a:.4f}"


def class_conf_from_metadata(meta: dict, classes: Sequence[str], where: str) -> np.ndarray | None:
    """Per-class thresholds in class-id order from a metadata dict, None when it has none.

    A class the metadata does not name keeps the model's ``operating_conf`` (0.25 without one)."""
    raw = meta.get("class_conf")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: class_conf must be a mapping of class name to confidence")
    default = meta.get("operating_conf", 0.25)
    out = []
    for c in classes:
        v = raw.get(c, default)
        if not isinstance(v, (int, float)) or not 0.0 < float(v) < 1.0:
            raise InvalidInput(f"{where}: class_conf[{c!r}] = {v!r}: expected a number between 0 and 1")
        out.append(float(v))
    return np.array(out, np.float32)


def count_accuracy(meta: dict) -> tuple[float, int] | None:
    """(share of its validation photos a model counts every class of exactly right, at the thresholds
    the appliance uses: its class_conf where it has one; how many photos), from the metadata
    ``export --data`` writes (``metrics.counting``); None for a model without such figures."""
    counting = (meta.get("metrics") or {}).get("counting") if isinstance(meta.get("metrics"), dict) else None
    if not isinstance(counting, dict):
        return None
    key = "count_accuracy_at_class_conf" if meta.get("class_conf") else "count_accuracy_at_operating_conf"
    value, photos = counting.get(key), counting.get("val_photos")
    if not isinstance(value, (int, float)) or not isinstance(photos, int):
        return None
    return float(value), photos


def figures_line(meta: dict) -> str:
    """A model's measured figures in one line (the dashboard's system page, ``model install``)."""
    parts = []
    acc = count_accuracy(meta)
    if acc is not None:
        at = "its class_conf" if meta.get("class_conf") else f"conf {meta.get('operating_conf', 0.25)}"
        parts.append(f"counts {acc[0]:.1%} of its {acc[1]} validation photos right (at {at})")
    metrics = meta.get("metrics")
    metrics = metrics if isinstance(metrics, dict) else {}
    int8 = metrics.get("int8")
    int8 = int8 if isinstance(int8, dict) else {}
    if isinstance(int8.get("mAP50"), (int, float)):
        on = f"dataset {Path(str(metrics['dataset'])).name}" if metrics.get("dataset") else "rendered trays"
        parts.append(f"INT8 mAP50 {float(int8['mAP50']):.3f} on {on}")
    return "; ".join(parts) if parts else "no measured figures in its metadata"
