"""A model family on disk (``NAME.onnx``, ``NAME.int8.onnx``, ``NAME.json``, optionally ``NAME.pt``):
finding it from any of its files, checking that it loads and detects what the menu needs, the
count-accuracy guard before service, and copying it into the model directory."""
from __future__ import annotations

import filecmp
import json
import os
import shutil
from pathlib import Path

from detectors.model_info import count_accuracy, figures_line, parse_classes
from detectors.onnx_backend import OnnxDetector
from edge.errors import InvalidInput, TrayCheckError
from orders.menu import Menu

SUFFIXES = (".int8.onnx", ".onnx", ".json", ".pt")  # longest first: NAME.int8.onnx is not NAME.int8
REQUIRED = (".onnx", ".int8.onnx", ".json")


def cannot_load(where: object, exc: Exception) -> InvalidInput:
    """One line for a model file the runtime choked on: the file, the exception's type and the
    first line of its message (ultralytics' run to several, with advice that does not apply)."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    detail = f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__
    return InvalidInput(f"model file {where}: cannot be loaded ({detail})")


def find_family(src: Path) -> tuple[Path, str]:
    """(folder, NAME) from a family's file, ``DIR/NAME``, or a folder holding one family."""
    src = Path(src)
    if src.is_dir():
        names = sorted(p.name.removesuffix(".json") for p in src.glob("*.json")
                       if (src / (p.name.removesuffix(".json") + ".onnx")).is_file())
        if len(names) == 1:
            return src, names[0]
        if not names:
            raise InvalidInput(f"{src}: no model family here (expected NAME.onnx, NAME.int8.onnx, NAME.json)")
        raise InvalidInput(f"{src}: several model families ({', '.join(names)}): give {src}/NAME")
    for suffix in SUFFIXES:
        if src.name.endswith(suffix) and src.is_file():
            return src.parent, src.name.removesuffix(suffix)
    if any((src.parent / f"{src.name}{s}").is_file() for s in SUFFIXES):
        return src.parent, src.name
    raise InvalidInput(f"{src}: no such model file, folder or DIR/NAME family")


def probe(det: object, where: str) -> None:
    """Loads is not runs: the output must fit the class list, and one frame must go through,
    before a model is installed or switched to (a failure then would cost every verdict)."""
    import numpy as np

    classes = det.classes  # type: ignore[attr-defined]
    session = getattr(det, "session", None)
    if session is not None:
        out = session.get_outputs()[0].shape
        if len(out) != 3 or (isinstance(out[1], int) and out[1] != 4 + len(classes)):
            raise InvalidInput(f"{where}: output shape {out} does not fit its {len(classes)} classes "
                            f"(expected 1 x {4 + len(classes)} x anchors)")
    try:
        det.detect(np.full((480, 640, 3), 114, np.uint8))  # type: ignore[attr-defined]
    except TrayCheckError:
        raise
    except Exception as exc:  # whatever the runtime raises: the model cannot serve
        raise InvalidInput(f"{where}: fails on a test frame ({type(exc).__name__}: {exc})") from None


def check_family(folder: Path, name: str, menu: Menu) -> tuple[str, ...]:
    """Refuse a family that cannot run here: missing files, unreadable metadata, an ONNX file
    ONNX Runtime cannot load or whose outputs disagree with the class list, or classes that do
    not cover ``menu``. Returns the classes."""
    where = f"model {name} in {folder}"
    for suffix in REQUIRED:
        if not (folder / f"{name}{suffix}").is_file():
            raise InvalidInput(f"{where}: {name}{suffix} is missing (a family is {name}.onnx, {name}.int8.onnx, "
                            f"{name}.json)")
    meta_path = folder / f"{name}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{meta_path}: unreadable ({exc})") from None
    classes = parse_classes(meta, str(meta_path))
    for suffix in (".onnx", ".int8.onnx"):
        path = folder / f"{name}{suffix}"
        try:
            det = OnnxDetector(path, threads=1, spin=False)
        except TrayCheckError:
            raise
        except Exception as exc:  # a file ONNX Runtime opens but that is no detector (no image input, ...)
            raise cannot_load(path, exc) from None
        probe(det, str(path))
    menu.check_classes(classes, f"model {name}")
    return classes


def same_family(a: Path, b: Path, name_a: str, name_b: str) -> bool:
    return all((b / f"{name_b}{s}").is_file() and filecmp.cmp(a / f"{name_a}{s}", b / f"{name_b}{s}", shallow=False)
               for s in SUFFIXES if (a / f"{name_a}{s}").is_file())


def copy_family(src: Path, name: str, dest: Path, target: str) -> None:
    """Copy every file of the family under a temporary name, then rename each into place."""
    dest.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for suffix in SUFFIXES:
            f = src / f"{name}{suffix}"
            if not f.is_file():
                continue
            tmp = dest / f".{target}{suffix}.installing"
            if suffix == ".json" and target != name:  # renamed on install: the metadata follows
                meta = json.loads(f.read_text())
                meta["name"] = target
                if isinstance(meta.get("files"), dict):
                    meta["files"] = {k: str(v).replace(name, target, 1) for k, v in meta["files"].items()}
                tmp.write_text(json.dumps(meta, indent=2) + "\n")
            else:
                shutil.copyfile(f, tmp)
            os.chmod(tmp, 0o644)
            staged.append((tmp, dest / f"{target}{suffix}"))
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def count_guard(folder: Path, name: str, floor: float, force: bool) -> str:
    """Refuse (InvalidInput) a family whose own figures say it counts fewer than ``floor`` of its
    validation photos right, or that has no such figures, unless ``force``; its figures in a line."""
    meta = json.loads((folder / f"{name}.json").read_text())
    figures = figures_line(meta)
    acc = count_accuracy(meta)
    if acc is None:
        why = ("has no count accuracy on its own validation photos (export it with --data DATASET to measure "
               "one)")
    elif acc[0] < floor:
        why = (f"counts {acc[0]:.1%} of its {acc[1]} validation photos right, below the floor of {floor:.0%} "
               "(detector.min_count_accuracy): it would fail orders")
    else:
        return figures
    if not force:
        raise InvalidInput(f"model {name} {why}; nothing installed. Install it anyway with --force")
    return f"{figures} (below the floor, installed with --force)" if acc is not None else \
        f"{figures} (not measured, installed with --force)"
