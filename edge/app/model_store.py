"""The appliance's model directory: installed model families and the active-model pointer.

A model family is ``NAME.onnx``, ``NAME.int8.onnx`` and ``NAME.json`` (optionally
``NAME.pt``) in one folder. ``traycheck model install`` checks a family, copies it
into the model directory (``detector.model_dir``, default ``<data_dir>/models``) and
points ``active.json`` at it; ``traycheck model rollback`` points back. The running
service reads the pointer at start and on SIGHUP.

``active.json``: ``{"name": NAME or null, "previous": NAME or null, "changed_at": ...}``.
``name: null`` means the config's ``detector.model`` (the fallback, by default the
bundled model); no ``previous`` key means there is nothing to roll back to. It is
replaced with ``os.replace``, so a reader never sees half a file.
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from detectors.detections import ModelDetector
from detectors.loader import load_detector
from detectors.model_info import family_name, model_label, resolve_model
from edge.app.config import Config
from edge.app.model_family import (
    cannot_load,
    check_family,
    copy_family,
    count_guard,
    find_family,
    probe,
    same_family,
)
from edge.errors import InvalidInput, TrayCheckError
from orders.menu import Menu, load_menu

POINTER = "active.json"


def model_dir(cfg: Config) -> Path:
    return Path(cfg.detector.model_dir) if cfg.detector.model_dir else Path(cfg.data_dir) / "models"


def read_pointer(folder: Path) -> dict | None:
    """The pointer in ``folder`` (None when no model was ever installed there)."""
    path = folder / POINTER
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"active model pointer {path}: unreadable ({exc}); fix or delete it") from None
    if not isinstance(data, dict) or not (data.get("name") is None or isinstance(data.get("name"), str)):
        raise InvalidInput(f"active model pointer {path}: expected {{\"name\": NAME or null, ...}}")
    return data


def write_pointer(folder: Path, name: str | None, previous: str | None, **extra: object) -> None:
    """Atomically point ``folder``'s active model at ``name`` (None: the config's fallback)."""
    data = {"name": name, "previous": previous,
            "changed_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), **extra}
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".active-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / POINTER)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def active_model(cfg: Config) -> tuple[str | None, str | None]:
    """(model reference for ``load_detector``, installed name or None for the config's fallback)."""
    folder = model_dir(cfg)
    ptr = read_pointer(folder)
    name = ptr.get("name") if ptr else None
    if not name or cfg.detector.type != "onnx":  # installed models are ONNX files
        return cfg.detector.model, None
    if not (folder / f"{name}.onnx").is_file():
        raise InvalidInput(f"active model pointer {folder / POINTER}: model {name!r} is not in {folder} "
                        "(traycheck model rollback, or delete the pointer to use detector.model)")
    return str(folder / name), name


def config_menu(cfg: Config, detector: object, config_path: Path | None = None) -> Menu:
    """The config's menu, checked against the model's classes; an error names the config key."""
    try:
        return load_menu(cfg.menu, classes=detector.classes, model=model_label(detector))  # type: ignore[attr-defined]
    except TrayCheckError as exc:
        if config_path is None:
            raise
        raise InvalidInput(f"config {config_path}: menu: {exc}") from None


def load_model(ref: str | Path | None, variant: str, **options: Any) -> ModelDetector:
    """``load_detector``, where a file that does not load (a text file named ``.pt``, a truncated
    export) is one line naming the file, never the runtime's traceback: ``config check``, ``run``,
    ``doctor`` and ``model rollback`` all load through here."""
    try:
        return load_detector(ref, variant, **options)
    except TrayCheckError:
        raise
    except Exception as exc:  # whatever torch, ultralytics or ONNX Runtime raise for a broken file
        try:
            where: object = resolve_model(ref, variant)
        except TrayCheckError:
            where = ref
        raise cannot_load(where, exc) from None


def load_active(cfg: Config, threads: int = 1) -> tuple[ModelDetector, str | None]:
    """(detector, installed name or None) of the model the service would start with."""
    ref, name = active_model(cfg)
    d = cfg.detector
    det = load_model(ref, d.variant_for(ref), **{**d.load_options(), "threads": threads})
    return det, name


def check_config_model(cfg: Config, config_path: Path | None = None) -> str:
    """What ``config check`` adds to the file's own validation: the active model loads and runs,
    and its classes cover the menu. A one-line description of both."""
    det, name = load_active(cfg)
    probe(det, f"model file {det.path}")
    menu = config_menu(cfg, det, config_path)
    return (f"model {family_name(det.path)} ({'installed' if name else 'detector.model'}, "
            f"{len(det.classes)} classes), menu of {len(menu.skus)} SKUs")


def describe(name: str | None, cfg: Config) -> str:
    return name if name else f"detector.model ({cfg.detector.model or 'the bundled model'})"


# -- install ------------------------------------------------------------------------------
def install(src: Path, cfg: Config, menu: Menu, force: bool = False) -> str:
    """Check a family, copy it into the model directory, make it the active model. A family of
    the same name but other files already there is kept (rollback may need it): the new one is
    installed as NAME-2, NAME-3, ... A family whose own figures fall below the count-accuracy floor
    is refused unless ``force``."""
    folder, name = find_family(src)
    classes = check_family(folder, name, menu)
    figures = count_guard(folder, name, cfg.detector.min_count_accuracy, force)
    dest = model_dir(cfg)
    ptr = read_pointer(dest)
    current = ptr.get("name") if ptr else None
    target, n = name, 1
    while (dest / f"{target}.onnx").exists() and not same_family(folder, dest, name, target):
        n += 1
        target = f"{name}-{n}"
    if not ((dest / f"{target}.onnx").exists() and same_family(folder, dest, name, target)):
        copy_family(folder, name, dest, target)
    renamed = f" as {target} (another {name} is installed)" if target != name else ""
    if ptr is not None and current == target:
        return f"model {target} ({len(classes)} classes) is already the active model in {dest}"
    write_pointer(dest, target, current)
    return (f"installed model {name}{renamed} ({len(classes)} classes: {', '.join(classes)}) into {dest}; "
            f"it {figures}; active now (was {describe(current, cfg)}). Send SIGHUP to switch the running "
            "service: systemctl reload traycheck")


def rollback(cfg: Config, menu: Menu) -> str:
    """Point back at the previous model (checked like an install: the service would refuse one
    that cannot run); the model rolled back from becomes the new previous."""
    dest = model_dir(cfg)
    ptr = read_pointer(dest)
    if ptr is None or "previous" not in ptr:
        raise InvalidInput(f"nothing to roll back to: no model was installed in {dest}")
    prev, current = ptr["previous"], ptr.get("name")
    if prev is not None:
        if not (dest / f"{prev}.onnx").is_file():
            raise InvalidInput(f"cannot roll back to model {prev!r}: {dest / (prev + '.onnx')} is gone")
        check_family(dest, prev, menu)
    else:
        det = load_model(cfg.detector.model, cfg.detector.variant, **{**cfg.detector.load_options(), "threads": 1},
                         spin=False)
        menu.check_classes(det.classes, model_label(det))
    write_pointer(dest, prev, current)
    return (f"active model is now {describe(prev, cfg)} (was {describe(current, cfg)}). Send SIGHUP to "
            "switch the running service: systemctl reload traycheck")
