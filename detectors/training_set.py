"""The labelled dataset a training or export run reads: its data.yaml, class names and photos per split.

A dataset folder is what ``traycheck data import`` writes (or any ultralytics dataset);
``--data`` may name the folder or its data.yaml.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from edge.errors import InvalidInput


def read_dataset(data: Path) -> tuple[Path, dict, list[str]]:
    """(data.yaml path, its content, class names) of a dataset folder or data.yaml file."""
    data = Path(data)
    yml = data if data.suffix in (".yaml", ".yml") else data / "data.yaml"
    if not yml.is_file():
        raise InvalidInput(f"--data {data}: no data.yaml (make one with 'traycheck data import SRC -o {data}')")
    try:
        d = yaml.safe_load(yml.read_text())
        names = d["names"]
        classes = [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else [str(n) for n in names]
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{yml}: not a dataset description ({type(exc).__name__}: {exc})") from None
    return yml, d, classes


def split_images(yml: Path, d: dict, split: str) -> list[Path]:
    """The image files of one split (``train``, ``val``) of a data.yaml, in name order."""
    base = Path(d.get("path") or yml.parent)
    base = base if base.is_absolute() and base.is_dir() else yml.parent
    folder = base / str(d.get(split, f"images/{split}"))
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp"))
