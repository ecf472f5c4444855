"""Reading a YOLO export: ultralytics (data.yaml), CVAT "YOLO 1.1" (obj.names, list files) or a plain
folder of images with a classes.txt.

Only parses: a malformed label line or an unknown class id becomes a ``Problem`` naming the file
and line, never an exception (see ``detectors.datasets.readers``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from detectors.datasets.image_files import images_in
from detectors.datasets.records import LabelledImage, Problem, Source
from edge.errors import InvalidInput


def _read_names(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]


def _yolo_classes_and_images(src: Path) -> tuple[list[str], list[Path], str]:
    """Class names and image files of a YOLO export, whichever flavour it is."""
    root = src.parent if src.is_file() else src
    data_yaml = src if src.is_file() else root / "data.yaml"
    if data_yaml.is_file():
        return _from_data_yaml(data_yaml, root)
    names_file = next((root / n for n in ("obj.names", "classes.txt") if (root / n).is_file()), None)
    if names_file is None:
        raise InvalidInput(f"{root}: a YOLO export needs data.yaml, obj.names or classes.txt for the class names")
    classes = _read_names(names_file)
    if (root / "obj.data").is_file() or any(root.glob("obj_*_data")):  # CVAT "YOLO 1.1"
        return classes, _cvat_images(root), "yolo (CVAT YOLO 1.1)"
    return classes, images_in(root), "yolo (folder)"


def _from_data_yaml(data_yaml: Path, root: Path) -> tuple[list[str], list[Path], str]:
    """An ultralytics export: class names and the images of every split its data.yaml lists."""
    try:
        data = yaml.safe_load(data_yaml.read_text())
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{data_yaml}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or "names" not in data:
        raise InvalidInput(f"{data_yaml}: expected a mapping with 'names'")
    names = data["names"]
    classes = [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else [str(n) for n in names]
    base = Path(data.get("path") or root)
    base = base if base.is_absolute() else root / base
    if not base.is_dir():
        base = root  # a moved dataset: its yaml still names the old place
    images: list[Path] = []
    for split in ("train", "val", "test"):
        entries = data.get(split) or []
        for entry in [entries] if isinstance(entries, str) else entries:
            p = base / entry
            if p.is_dir():
                images += images_in(p)
            elif p.is_file() and p.suffix == ".txt":
                images += _list_file(p, root)
    return classes, list(dict.fromkeys(images)), "yolo (data.yaml)"


def _cvat_images(root: Path) -> list[Path]:
    """A CVAT "YOLO 1.1" export's images: those its split list files name, else its obj_*_data folders."""
    images: list[Path] = []
    for lst in sorted(root.glob("*.txt")):
        if lst.name in ("classes.txt",) or lst.stem not in ("train", "valid", "val", "test"):
            continue
        images += _list_file(lst, root)
    if not images:
        for d in sorted(root.glob("obj_*_data")):
            images += images_in(d)
    return list(dict.fromkeys(images))


def _list_file(lst: Path, root: Path) -> list[Path]:
    """Image paths of a darknet list file; CVAT writes them as 'data/obj_train_data/x.jpg'."""
    out = []
    for ln in lst.read_text(errors="replace").splitlines():
        ln = ln.strip()
        if not ln:
            continue
        rel = Path(ln)
        cands = [rel if rel.is_absolute() else root / rel]
        if rel.parts and rel.parts[0] == "data":
            cands.append(root / Path(*rel.parts[1:]))
        out.append(next((c for c in cands if c.is_file()), cands[-1]))
    return out


def _yolo_label_path(img: Path) -> Path:
    parts = list(img.parts)
    if "images" in parts:  # ultralytics layout: .../images/train/x.jpg -> .../labels/train/x.txt
        i = len(parts) - 1 - parts[::-1].index("images")
        cand = Path(*parts[:i], "labels", *parts[i + 1:]).with_suffix(".txt")
        if cand.is_file():
            return cand
    return img.with_suffix(".txt")


def read_yolo(src: Path) -> Source:
    classes, images, flavour = _yolo_classes_and_images(src)
    out = Source(flavour, classes)
    for img in images:
        if not img.is_file():
            out.problems.append(Problem(str(img), "image listed but missing", True))
            continue
        lbl = _yolo_label_path(img)
        boxes, names = [], []
        if lbl.is_file():  # no label file: an image with nothing on it (a valid negative)
            for n, ln in enumerate(lbl.read_text(errors="replace").splitlines(), 1):
                f = ln.split()
                if not f:
                    continue
                try:
                    cid, cx, cy, w, h = int(f[0]), *map(float, f[1:5])
                    if len(f) < 5:
                        raise ValueError
                except (ValueError, TypeError):
                    out.problems.append(Problem(f"{lbl}:{n}", f"malformed YOLO line {ln.strip()!r}"))
                    continue
                if not 0 <= cid < len(classes):
                    out.problems.append(Problem(f"{lbl}:{n}", f"unknown class id {cid} ({len(classes)} classes)"))
                    continue
                boxes.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
                names.append(classes[cid])
        out.images.append(LabelledImage(img, np.array(boxes, np.float32), names, normalized=True))
    return out
