"""Labelled photos for scoring: an ultralytics dataset (``data.yaml``) or a plain folder.

Labels are YOLO text lines (``cls cx cy w h``, normalised; a polygon
``cls x1 y1 x2 y2 ...`` becomes its bounding box, as ultralytics does). Class
ids mean the dataset's own ``names``: models are matched to them by name
later, so a dataset never has to share a model's class order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from detectors.yolo_format import dataset_root, yolo_box
from edge.errors import InvalidInput

IMAGE_SUFFIXES = {".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}
NAMES_FILES = ("classes.txt", "obj.names")  # labelImg / darknet exports name their classes in one of these


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    boxes: np.ndarray  # (n, 4) float32 xyxy, normalised 0..1
    classes: np.ndarray  # (n,) int64, ids into LabelledSet.names


@dataclass(frozen=True)
class LabelledSet:
    names: tuple[str, ...]
    images: list[LabelledImage]
    source: str  # what was read, for messages and reports
    unlabelled: int  # images without a label file (skipped: unknown is not "empty")
    names_from: str  # where the class names came from


def load_labelled(path: Path, split: str = "val", fallback_names: tuple[str, ...] | None = None) -> LabelledSet:
    """The labelled images of a dataset folder / data.yaml (its ``split``) or of a plain image folder."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"dataset {path}: not found")
    if path.is_file():
        if path.suffix not in (".yaml", ".yml"):
            raise InvalidInput(f"dataset {path}: expected a folder or a data.yaml file")
        return _from_yaml(path, split)
    for name in ("data.yaml", "dataset.yaml"):
        if (path / name).is_file():
            return _from_yaml(path / name, split)
    if (path / "images" / split).is_dir():
        image_dirs = [path / "images" / split]
    else:
        image_dirs = [path]
    names, names_from = _names_file(path)
    if names is None:
        if fallback_names is None:
            raise InvalidInput(f"dataset {path}: no data.yaml and no {' or '.join(NAMES_FILES)} naming the classes")
        names, names_from = tuple(fallback_names), "model A's classes (no data.yaml or classes.txt)"
    return _collect(image_dirs, names, str(path), names_from)


def _names_file(folder: Path) -> tuple[tuple[str, ...] | None, str]:
    for d in (folder, folder.parent):
        for name in NAMES_FILES:
            f = d / name
            if f.is_file():
                names = tuple(line.strip() for line in f.read_text(errors="replace").splitlines() if line.strip())
                if names:
                    return names, str(f)
    return None, ""


def _parse_names(raw: object, where: str) -> tuple[str, ...]:
    if isinstance(raw, list) and raw and all(isinstance(n, str) for n in raw):
        return tuple(raw)
    if isinstance(raw, dict) and raw:
        try:
            ids = sorted(int(k) for k in raw)
        except (TypeError, ValueError):
            raise InvalidInput(f"{where}: 'names' keys must be class ids 0, 1, ...") from None
        if ids != list(range(len(ids))):
            raise InvalidInput(f"{where}: 'names' must number the classes 0..{len(ids) - 1} without gaps")
        by_id = {int(k): v for k, v in raw.items()}
        if not all(isinstance(by_id[i], str) and by_id[i] for i in ids):
            raise InvalidInput(f"{where}: every class in 'names' needs a name")
        return tuple(by_id[i] for i in ids)
    raise InvalidInput(f"{where}: 'names' must be a list or a mapping {{0: name, ...}}")


def _from_yaml(file: Path, split: str) -> LabelledSet:
    try:
        data = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"dataset {file}: not readable YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"dataset {file}: expected a YAML mapping")
    if "names" not in data:
        raise InvalidInput(f"dataset {file}: no 'names' key")
    names = _parse_names(data["names"], f"dataset {file}")
    if split not in data or not data[split]:
        have = [k for k in ("train", "val", "test") if data.get(k)]
        raise InvalidInput(f"dataset {file}: no '{split}' split (has: {', '.join(have) or 'none'})")
    root = dataset_root(file, data.get("path"))
    entries = data[split] if isinstance(data[split], list) else [data[split]]
    dirs, listed = [], []
    for entry in entries:
        p = root / str(entry)
        if p.is_dir():
            dirs.append(p)
        elif p.is_file() and p.suffix == ".txt":  # a list of image paths, one a line
            base = p.parent
            listed += [(base / line.strip()).resolve() for line in p.read_text().splitlines() if line.strip()]
        else:
            raise InvalidInput(f"dataset {file}: {split} split {p}: not found")
    return _collect(dirs, names, f"{file} ({split})", str(file), listed)


def _label_file(image: Path) -> Path | None:
    """The label file of an image: images/x/a.jpg -> labels/x/a.txt (ultralytics), else a.txt beside it."""
    parts = image.parts
    if "images" in parts:
        i = len(parts) - 1 - parts[::-1].index("images")
        cand = Path(*parts[:i], "labels", *parts[i + 1:]).with_suffix(".txt")
        if cand.is_file():
            return cand
    beside = image.with_suffix(".txt")
    return beside if beside.is_file() else None


def _collect(dirs: list[Path], names: tuple[str, ...], source: str, names_from: str,
             listed: list[Path] | None = None) -> LabelledSet:
    paths = sorted(p for d in dirs for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    paths += [p for p in listed or [] if p.suffix.lower() in IMAGE_SUFFIXES]
    images, unlabelled = [], 0
    for p in paths:
        label = _label_file(p)
        if label is None:
            unlabelled += 1
            continue
        boxes, classes = read_label_file(label, len(names))
        images.append(LabelledImage(p, boxes, classes))
    if not images:
        where = ", ".join(str(d) for d in dirs) or source
        raise InvalidInput(f"dataset {source}: no labelled images in {where} "
                        f"({len(paths)} images, none with a YOLO .txt label file)")
    return LabelledSet(names, images, source, unlabelled, names_from)


def read_label_file(file: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """YOLO label lines -> (normalised xyxy boxes, class ids); a bad line is a InvalidInput naming file:line."""
    boxes, classes = [], []
    for n, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            cls_f = float(fields[0])
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise InvalidInput(f"label file {file}:{n}: expected numbers, got {line.strip()[:60]!r}") from None
        if cls_f != int(cls_f) or not 0 <= int(cls_f) < n_classes:
            raise InvalidInput(f"label file {file}:{n}: class {fields[0]} is not one of the dataset's "
                            f"{n_classes} class ids (0..{n_classes - 1})")
        box = yolo_box(values)
        if box is None:
            raise InvalidInput(f"label file {file}:{n}: expected 'class cx cy w h' (or a polygon), "
                            f"got {len(fields)} fields")
        boxes.append(box)
        classes.append(int(cls_f))
    xyxy = np.clip(np.array(boxes, np.float32).reshape(-1, 4), 0.0, 1.0)
    return xyxy, np.array(classes, np.int64)
