"""Read a labelled photo set in ultralytics' layout for ``traycheck synth stills``.

A site's own photos come as a YOLO dataset (``data.yaml`` with ``path``, the
split folders and ``names``; ``images/<split>/*.jpg`` next to
``labels/<split>/*.txt``). Everything is checked before a frame is written, and
each problem names the file and line, because the person running this has the
dataset in front of them, not the code.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from detectors.yolo_format import dataset_root, yolo_box
from edge.errors import InvalidInput

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
TOLERANCE = 0.01  # labelling tools round: a coordinate this far outside 0..1 is still accepted (and clipped)


@dataclass(frozen=True)
class Photo:
    """One labelled photo: its items as (class name, box xyxy in fractions of the photo)."""

    path: Path
    name: str  # relative to the dataset root (messages, truth, scenario.yaml)
    items: tuple[tuple[str, tuple[float, float, float, float]], ...]

    @property
    def classes(self) -> list[str]:
        return [c for c, _ in self.items]


@dataclass(frozen=True)
class StillsDataset:
    yaml_path: Path
    root: Path
    split: str
    names: tuple[str, ...]  # class id -> name
    photos: tuple[Photo, ...]  # labelled photos, sorted by name
    unlabelled: tuple[str, ...]  # photos without any label (an empty counter is no tray): skipped


def _names(raw: object, where: str) -> tuple[str, ...]:
    if isinstance(raw, list):
        raw = dict(enumerate(raw))
    if not isinstance(raw, dict) or not raw:
        raise InvalidInput(f"{where}: names: expected a mapping {{0: name, 1: name, ...}} or a list of names")
    try:
        ids = sorted(int(k) for k in raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}: names: class ids must be integers") from None
    if ids != list(range(len(ids))):
        raise InvalidInput(f"{where}: names: class ids must be 0..{len(ids) - 1} without gaps")
    names = tuple(str(raw[k] if k in raw else raw[str(k)]) for k in ids)
    if len(set(names)) != len(names):
        raise InvalidInput(f"{where}: names: a class name appears twice")
    return names


def _locate(dataset: Path) -> Path:
    dataset = Path(dataset)
    if dataset.is_file() and dataset.suffix in (".yaml", ".yml"):
        return dataset
    if dataset.is_dir():
        for name in ("data.yaml", "data.yml"):
            if (dataset / name).is_file():
                return dataset / name
        raise InvalidInput(f"{dataset}: no data.yaml (expected an ultralytics dataset: data.yaml, "
                        "images/<split>/, labels/<split>/)")
    raise InvalidInput(f"{dataset}: no such folder")


def _split_images(root: Path, entry: object, where: str, split: str) -> list[Path]:
    """Image files of one split entry: a folder (searched recursively) or a .txt list of images."""
    entries = entry if isinstance(entry, list) else [entry]
    images: list[Path] = []
    for e in entries:
        if not isinstance(e, str) or not e:
            raise InvalidInput(f"{where}: {split}: expected a folder (e.g. images/{split}) or a list of folders")
        p = Path(e) if Path(e).is_absolute() else root / e
        if p.is_dir():
            images += [f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTS and f.is_file()]
        elif p.is_file() and p.suffix == ".txt":
            for line in p.read_text().splitlines():
                if line.strip():
                    f = Path(line.strip())
                    images.append(f if f.is_absolute() else root / f)
        else:
            raise InvalidInput(f"{where}: {split}: {p} is not a folder")
    return sorted(set(images))


def label_path(image: Path) -> Path:
    """ultralytics' rule: the last ``/images/`` of the path becomes ``/labels/``, the suffix ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    s = str(image)
    s = sb.join(s.rsplit(sa, 1)) if sa in s else s
    return Path(s).with_suffix(".txt")


def read_labels(path: Path, names: tuple[str, ...]) -> tuple[tuple[str, tuple[float, float, float, float]], ...]:
    """YOLO label lines ``cls cx cy w h`` (or ``cls x1 y1 x2 y2 ...``, a polygon) as (name, xyxy)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not a text file") from None
    out = []
    for n, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        try:
            cls = int(parts[0])
            vals = [float(v) for v in parts[1:]]
        except ValueError:
            raise InvalidInput(f"{path}: line {n}: expected 'class cx cy w h' (numbers), "
                               f"got {line.strip()!r}") from None
        if not 0 <= cls < len(names):
            raise InvalidInput(f"{path}: line {n}: class id {cls} is not in data.yaml's names (0..{len(names) - 1})")
        if not all(math.isfinite(v) and -TOLERANCE <= v <= 1 + TOLERANCE for v in vals):
            raise InvalidInput(f"{path}: line {n}: coordinates must be fractions of the image (0..1)")
        box = yolo_box(vals)
        if box is None:
            raise InvalidInput(f"{path}: line {n}: expected 'class cx cy w h' (5 numbers), got {len(parts)}")
        x0, y0, x1, y1 = (min(1.0, max(0.0, v)) for v in box)
        if x1 <= x0 or y1 <= y0:
            raise InvalidInput(f"{path}: line {n}: empty box")
        out.append((names[cls], (x0, y0, x1, y1)))
    return tuple(out)


def read_dataset(dataset: Path, split: str) -> StillsDataset:
    """The labelled photos of one split, sorted by path; photos without labels are listed apart."""
    yaml_path = _locate(dataset)
    where = str(yaml_path)
    try:
        data = yaml.safe_load(yaml_path.read_text())
    except OSError as exc:
        raise InvalidInput(f"{where}: cannot read ({exc.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: expected a mapping with keys path, train, val, names")
    names = _names(data.get("names"), where)
    if data.get(split) is None:
        splits = [k for k in ("train", "val", "test") if data.get(k)]
        raise InvalidInput(f"{where}: no '{split}' split (this file has: {', '.join(splits) or 'none'})")
    root = dataset_root(yaml_path, data.get("path"))
    images = _split_images(root, data[split], where, split)
    if not images:
        raise InvalidInput(f"{where}: split '{split}' ({data[split]}) has no images")
    photos, unlabelled = [], []
    for img in images:
        name = os.path.relpath(img, root)
        lp = label_path(img)
        items = read_labels(lp, names) if lp.is_file() else ()
        if items:
            photos.append(Photo(img, name, items))
        else:
            unlabelled.append(name)
    if not photos:
        raise InvalidInput(f"{where}: split '{split}': none of its {len(images)} images has a label "
                        f"(labels go in labels/{split}/<image name>.txt)")
    return StillsDataset(yaml_path, root, split, names, tuple(photos), tuple(unlabelled))
