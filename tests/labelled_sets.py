"""Small labelled photo sets for the import tests: rendered trays written the way labelling
tools export them (CVAT YOLO 1.1, COCO JSON, Pascal VOC), with shots of one tray in bursts."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from detectors.classes import CLASSES
from detectors.synth.dataset import render_sample

STAMP = "20260101120000_000001_001_0000000001_B_C"


def shots(trays: int, per_tray: int, seed: int = 3) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(file name, image, xyxy, class ids): ``per_tray`` slightly different shots of each tray, named
    like a kiosk camera (one session stamp, a running shot number)."""
    out = []
    n = 1000
    i = 0
    while len(out) < trays * per_tray:
        img, xyxy, ids = render_sample(seed, i)
        i += 1
        if len(ids) == 0:
            continue
        rng = np.random.default_rng(i)
        h, w = img.shape[:2]
        for _ in range(per_tray):  # the tray nudged and the light changed between shots
            dx, dy = (int(v) for v in rng.integers(-40, 41, 2))
            moved = cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderMode=cv2.BORDER_REPLICATE)
            moved = cv2.convertScaleAbs(moved, alpha=float(rng.uniform(0.8, 1.2)))
            boxes = np.clip(xyxy + np.float32([dx, dy, dx, dy]), 0, [w, h, w, h])
            out.append((f"{STAMP} ({n}).jpg", moved, boxes, ids.copy()))
            n += 1
    return out


def write_cvat_yolo(root: Path, items, classes=CLASSES) -> Path:
    """CVAT "YOLO 1.1": obj.names, obj.data, train.txt, obj_train_data/ with image + .txt."""
    d = root / "obj_train_data"
    d.mkdir(parents=True, exist_ok=True)
    (root / "obj.names").write_text("".join(f"{c}\n" for c in classes))
    (root / "obj.data").write_text(f"classes = {len(classes)}\ntrain = data/train.txt\nnames = data/obj.names\n"
                                   "backup = backup/\n")
    lines = []
    for name, img, xyxy, ids in items:
        cv2.imwrite(str(d / name), img)
        h, w = img.shape[:2]
        (d / name).with_suffix(".txt").write_text("".join(
            f"{k} {(a + c) / 2 / w:.6f} {(b + e) / 2 / h:.6f} {(c - a) / w:.6f} {(e - b) / h:.6f}\n"
            for k, (a, b, c, e) in zip(ids, xyxy)))
        lines.append(f"data/obj_train_data/{name}\n")
    (root / "train.txt").write_text("".join(lines))
    return root


def write_coco(root: Path, items, classes=CLASSES) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i, (name, img, xyxy, ids) in enumerate(items, 1):
        cv2.imwrite(str(root / "images" / name), img)
        images.append({"id": i, "file_name": name, "width": img.shape[1], "height": img.shape[0]})
        for k, (a, b, c, e) in zip(ids, xyxy):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(k) + 1, "iscrowd": 0,
                         "bbox": [float(a), float(b), float(c - a), float(e - b)], "area": float((c - a) * (e - b))})
    cats = [{"id": k + 1, "name": c} for k, c in enumerate(classes)]
    p = root / "annotations" / "instances_default.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return root


def write_voc(root: Path, items, classes=CLASSES) -> Path:
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "labelmap.txt").write_text("# label:color_rgb:parts:actions\n" + "".join(f"{c}:0,0,0::\n" for c in classes))
    for name, img, xyxy, ids in items:
        cv2.imwrite(str(root / "JPEGImages" / name), img)
        objs = "".join(f"<object><name>{classes[k]}</name><bndbox><xmin>{a:.1f}</xmin><ymin>{b:.1f}</ymin>"
                       f"<xmax>{c:.1f}</xmax><ymax>{e:.1f}</ymax></bndbox></object>" for k, (a, b, c, e) in zip(ids, xyxy))
        (root / "Annotations" / Path(name).with_suffix(".xml").name).write_text(
            f"<annotation><filename>{name}</filename><size><width>{img.shape[1]}</width>"
            f"<height>{img.shape[0]}</height><depth>3</depth></size>{objs}</annotation>")
    return root


def tree_digest(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
