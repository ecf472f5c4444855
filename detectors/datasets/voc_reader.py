"""Reading a Pascal VOC export: one XML file per image (CVAT's VOC export adds a labelmap.txt).

Only parses: an unreadable XML file, a malformed box, an unknown class or a missing image
becomes a ``Problem``, never an exception (see ``detectors.datasets.readers``).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from detectors.datasets.image_files import IMAGE_SUFFIXES, natural_key
from detectors.datasets.records import LabelledImage, Problem, Source
from edge.errors import InvalidInput


def read_voc(src: Path) -> Source:
    ann_dir = src / "Annotations" if (src / "Annotations").is_dir() else src
    xmls = sorted(ann_dir.glob("*.xml"), key=lambda p: natural_key(p.name))
    if not xmls:
        raise InvalidInput(f"{src}: no VOC .xml annotations found")
    img_dirs = [src / "JPEGImages", src / "images", ann_dir, src]
    parsed: list[tuple[Path, ET.Element]] = []
    out = Source("voc", [])
    for x in xmls:
        try:
            parsed.append((x, ET.parse(x).getroot()))
        except (ET.ParseError, OSError) as exc:
            out.problems.append(Problem(str(x), f"unreadable XML ({exc})", True))
    out.classes = _voc_classes(src, parsed)
    for x, root in parsed:
        img = _voc_image(x, root, img_dirs, out.problems)
        if img is not None:
            boxes, names = _voc_objects(x, root, out.classes, out.problems)
            out.images.append(LabelledImage(img, np.array(boxes, np.float32), names, _voc_size(root)))
    return out


def _voc_classes(src: Path, parsed: list[tuple[Path, ET.Element]]) -> list[str]:
    """CVAT's labelmap.txt ('name:color:parts:actions') when there is one, else every object name seen."""
    labelmap = src / "labelmap.txt"
    if labelmap.is_file():
        return [ln.split(":")[0] for ln in labelmap.read_text().splitlines()
                if ln.strip() and not ln.startswith("#") and ln.split(":")[0] != "background"]
    return sorted({(o.findtext("name") or "").strip() for _, r in parsed for o in r.iter("object")} - {""})


def _voc_image(x: Path, root: ET.Element, img_dirs: list[Path], problems: list[Problem]) -> Path | None:
    """The image an XML file describes: its ``filename``, else one named like the XML file."""
    fname = (root.findtext("filename") or x.with_suffix(".jpg").name).strip()
    img = next((d / fname for d in img_dirs if (d / fname).is_file()), None)
    if img is None:
        img = next((d / (x.stem + s) for d in img_dirs for s in IMAGE_SUFFIXES if (d / (x.stem + s)).is_file()),
                   None)
    if img is None:
        problems.append(Problem(str(x), f"image {fname} not found", True))
    return img


def _voc_objects(x: Path, root: ET.Element, classes: list[str],
                 problems: list[Problem]) -> tuple[list[tuple[float, ...]], list[str]]:
    """The boxes (pixels, xyxy) and class names of the XML file's objects of known classes."""
    boxes, names = [], []
    for o in root.iter("object"):
        name = (o.findtext("name") or "").strip()
        bb = o.find("bndbox")
        try:
            box = tuple(float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore[union-attr, arg-type]  # a missing tag or text raises, caught below
        except (AttributeError, TypeError, ValueError):
            problems.append(Problem(str(x), f"object {name!r}: malformed bndbox"))
            continue
        if name not in classes:
            problems.append(Problem(str(x), f"unknown class {name!r}"))
            continue
        boxes.append(box)
        names.append(name)
    return boxes, names


def _voc_size(root: ET.Element) -> tuple[int, int] | None:
    """(width, height) from the XML's ``size``; None when it is missing or not numbers."""
    try:
        return (int(root.findtext("size/width")), int(root.findtext("size/height")))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
