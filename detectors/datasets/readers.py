"""Readers for what labelling tools export: YOLO (ultralytics, CVAT "YOLO 1.1", a plain
folder), COCO JSON and Pascal VOC XML.

Each reader only parses: a malformed line, an unknown class id or a missing
image becomes a ``Problem`` naming the file, never an exception. Checking the
pixels and the boxes against the image is ``validate``'s job.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml

from detectors.datasets.records import LabelledImage, Problem, Source
from edge.core import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
FORMATS = ("auto", "yolo", "coco", "voc")


def natural_key(name: str) -> list:
    """Sort 'shot (9)' before 'shot (10)'."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _images_in(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                  key=lambda p: natural_key(str(p.relative_to(folder))))


def detect_format(src: Path) -> str:
    """Guess the export format of ``src`` (a folder, or a COCO .json file)."""
    if src.is_file():
        if src.suffix.lower() == ".json":
            return "coco"
        if src.suffix.lower() in (".yaml", ".yml"):
            return "yolo"
        raise UserError(f"{src}: not a dataset folder, a COCO .json or a YOLO data.yaml")
    if not src.is_dir():
        raise UserError(f"{src}: not found")
    if any((src / n).is_file() for n in ("data.yaml", "obj.names", "classes.txt", "obj.data")):
        return "yolo"
    if _coco_json(src) is not None:
        return "coco"
    if (src / "Annotations").is_dir() or any(src.glob("*.xml")):
        return "voc"
    raise UserError(f"{src}: cannot tell the format (no data.yaml, obj.names or classes.txt for YOLO, no COCO "
                    "JSON, no Annotations/ or .xml for VOC); pass --format")


def read_source(src: Path, fmt: str = "auto") -> Source:
    src = Path(src)
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: unknown (one of {', '.join(FORMATS)})")
    if not src.exists():
        raise UserError(f"{src}: not found")
    fmt = detect_format(src) if fmt == "auto" else fmt
    return {"yolo": read_yolo, "coco": read_coco, "voc": read_voc}[fmt](src)


# -- YOLO ------------------------------------------------------------------------------------------------
def _read_names(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]


def _yolo_classes_and_images(src: Path) -> tuple[list[str], list[Path], str]:
    """Class names and image files of a YOLO export, whichever flavour it is."""
    root = src.parent if src.is_file() else src
    data_yaml = src if src.is_file() else root / "data.yaml"
    if data_yaml.is_file():
        try:
            data = yaml.safe_load(data_yaml.read_text())
        except yaml.YAMLError as exc:
            raise UserError(f"{data_yaml}: not valid YAML ({exc})") from None
        if not isinstance(data, dict) or "names" not in data:
            raise UserError(f"{data_yaml}: expected a mapping with 'names'")
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
                    images += _images_in(p)
                elif p.is_file() and p.suffix == ".txt":
                    images += _list_file(p, root)
        return classes, list(dict.fromkeys(images)), "yolo (data.yaml)"
    names_file = next((root / n for n in ("obj.names", "classes.txt") if (root / n).is_file()), None)
    if names_file is None:
        raise UserError(f"{root}: a YOLO export needs data.yaml, obj.names or classes.txt for the class names")
    classes = _read_names(names_file)
    if (root / "obj.data").is_file() or any(root.glob("obj_*_data")):  # CVAT "YOLO 1.1"
        images = []
        for lst in sorted(root.glob("*.txt")):
            if lst.name in ("classes.txt",) or lst.stem not in ("train", "valid", "val", "test"):
                continue
            images += _list_file(lst, root)
        if not images:
            for d in sorted(root.glob("obj_*_data")):
                images += _images_in(d)
        return classes, list(dict.fromkeys(images)), "yolo (CVAT YOLO 1.1)"
    return classes, _images_in(root), "yolo (folder)"


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


# -- COCO ------------------------------------------------------------------------------------------------
def _coco_json(folder: Path) -> Path | None:
    for p in sorted(folder.glob("*.json")) + sorted(folder.glob("annotations/*.json")):
        try:
            head = p.read_text(errors="replace")[:200_000]
        except OSError:
            continue
        if '"annotations"' in head and '"images"' in head:
            return p
    return None


def read_coco(src: Path) -> Source:
    path = src if src.is_file() else _coco_json(src)
    if path is None:
        raise UserError(f"{src}: no COCO JSON (with 'images' and 'annotations') found")
    try:
        data = json.loads(path.read_text())
        cats = {int(c["id"]): str(c["name"]) for c in data["categories"]}
        images = {int(i["id"]): i for i in data["images"]}
        anns = data.get("annotations", [])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: not a COCO file ({type(exc).__name__}: {exc})") from None
    out = Source("coco", [cats[k] for k in sorted(cats)])
    roots = [path.parent, path.parent / "images", path.parent.parent / "images", path.parent.parent]
    per_image: dict[int, tuple[list, list]] = {k: ([], []) for k in images}
    for a in anns:
        try:
            iid, cid = int(a["image_id"]), int(a["category_id"])
            x, y, w, h = map(float, a["bbox"])
        except (KeyError, TypeError, ValueError):
            out.problems.append(Problem(f"{path}: annotation {a.get('id', '?')}", "malformed annotation"))
            continue
        if iid not in images:
            out.problems.append(Problem(f"{path}: annotation {a.get('id', '?')}", f"unknown image id {iid}"))
            continue
        if cid not in cats:
            out.problems.append(Problem(f"{images[iid].get('file_name')}", f"unknown category id {cid}"))
            continue
        per_image[iid][0].append((x, y, x + w, y + h))
        per_image[iid][1].append(cats[cid])
    for iid in sorted(images, key=lambda k: natural_key(str(images[k].get("file_name", "")))):
        info = images[iid]
        name = str(info.get("file_name", ""))
        img = next((r / name for r in roots if (r / name).is_file()), roots[0] / name)
        if not img.is_file():
            out.problems.append(Problem(name, "image listed but missing", True))
            continue
        boxes, names = per_image[iid]
        size = (int(info["width"]), int(info["height"])) if "width" in info and "height" in info else None
        out.images.append(LabelledImage(img, np.array(boxes, np.float32), names, size))
    return out


# -- Pascal VOC ------------------------------------------------------------------------------------------
def read_voc(src: Path) -> Source:
    ann_dir = src / "Annotations" if (src / "Annotations").is_dir() else src
    xmls = sorted(ann_dir.glob("*.xml"), key=lambda p: natural_key(p.name))
    if not xmls:
        raise UserError(f"{src}: no VOC .xml annotations found")
    img_dirs = [src / "JPEGImages", src / "images", ann_dir, src]
    parsed: list[tuple[Path, ET.Element]] = []
    out = Source("voc", [])
    for x in xmls:
        try:
            parsed.append((x, ET.parse(x).getroot()))
        except (ET.ParseError, OSError) as exc:
            out.problems.append(Problem(str(x), f"unreadable XML ({exc})", True))
    labelmap = src / "labelmap.txt"
    if labelmap.is_file():  # CVAT's VOC export: 'name:color:parts:actions'
        out.classes = [ln.split(":")[0] for ln in labelmap.read_text().splitlines()
                       if ln.strip() and not ln.startswith("#") and ln.split(":")[0] != "background"]
    else:
        out.classes = sorted({(o.findtext("name") or "").strip() for _, r in parsed for o in r.iter("object")} - {""})
    for x, root in parsed:
        fname = (root.findtext("filename") or x.with_suffix(".jpg").name).strip()
        img = next((d / fname for d in img_dirs if (d / fname).is_file()), None)
        if img is None:
            img = next((d / (x.stem + s) for d in img_dirs for s in IMAGE_SUFFIXES if (d / (x.stem + s)).is_file()),
                       None)
        if img is None:
            out.problems.append(Problem(str(x), f"image {fname} not found", True))
            continue
        boxes, names = [], []
        for o in root.iter("object"):
            name = (o.findtext("name") or "").strip()
            bb = o.find("bndbox")
            try:
                box = tuple(float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore[union-attr, arg-type]  # a missing tag or text raises, caught below
            except (AttributeError, TypeError, ValueError):
                out.problems.append(Problem(str(x), f"object {name!r}: malformed bndbox"))
                continue
            if name not in out.classes:
                out.problems.append(Problem(str(x), f"unknown class {name!r}"))
                continue
            boxes.append(box)
            names.append(name)
        size = None
        try:
            size = (int(root.findtext("size/width")), int(root.findtext("size/height")))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
        out.images.append(LabelledImage(img, np.array(boxes, np.float32), names, size))
    return out
