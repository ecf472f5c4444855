"""Reading a COCO JSON export: categories, images and their ``bbox`` annotations.

Only parses: a malformed annotation, an unknown image or category id, or a missing image
becomes a ``Problem``, never an exception (see ``detectors.datasets.readers``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from detectors.datasets.image_files import natural_key
from detectors.datasets.records import LabelledImage, Problem, Source
from edge.errors import InvalidInput


def find_coco_json(folder: Path) -> Path | None:
    """The first JSON file in ``folder`` (or its annotations/) that looks like COCO: images and annotations."""
    for p in sorted(folder.glob("*.json")) + sorted(folder.glob("annotations/*.json")):
        try:
            head = p.read_text(errors="replace")[:200_000]
        except OSError:
            continue
        if '"annotations"' in head and '"images"' in head:
            return p
    return None


def read_coco(src: Path) -> Source:
    path = src if src.is_file() else find_coco_json(src)
    if path is None:
        raise InvalidInput(f"{src}: no COCO JSON (with 'images' and 'annotations') found")
    try:
        data = json.loads(path.read_text())
        cats = {int(c["id"]): str(c["name"]) for c in data["categories"]}
        images = {int(i["id"]): i for i in data["images"]}
        anns = data.get("annotations", [])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{path}: not a COCO file ({type(exc).__name__}: {exc})") from None
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
