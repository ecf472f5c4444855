"""Pieces of ultralytics' dataset format that every reader of it shares.

The readers (model compare's labelled sets, ``synth stills``, copy-paste) each
word their own errors for their own command; what a ``path:`` key or a label
line *means* is the format's, so it lives here once.
"""
from __future__ import annotations

from pathlib import Path


def dataset_root(yaml_file: Path, path_value: object) -> Path:
    """The folder a data.yaml's split entries are relative to: its ``path`` key (relative to the
    file), or the file's folder when the key is empty or names no folder here (a dataset copied
    from another machine keeps its old absolute path)."""
    root = Path(str(path_value)) if path_value else yaml_file.parent
    if not root.is_absolute():
        root = yaml_file.parent / root
    return root if root.is_dir() else yaml_file.parent


def yolo_box(values: list[float]) -> tuple[float, float, float, float] | None:
    """Normalised xyxy of a label line's numbers after the class id: ``cx cy w h``, or a polygon
    ``x1 y1 x2 y2 x3 y3 ...`` (its bounding box); None for any other count."""
    if len(values) == 4:
        cx, cy, w, h = values
        return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    if len(values) >= 6 and len(values) % 2 == 0:
        xs, ys = values[0::2], values[1::2]
        return min(xs), min(ys), max(xs), max(ys)
    return None
