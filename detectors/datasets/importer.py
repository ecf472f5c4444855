"""``traycheck data import``: a labelling tool's export -> a clean dataset in ultralytics' layout.

Read (any supported format) -> map/drop classes -> check every image and box ->
drop duplicates -> group shots of one tray -> split by group -> write
``images/``, ``labels/``, ``data.yaml`` and ``manifest.json`` (what was kept,
skipped and why). The output is written beside the target and moved into place
at the end, so a failed import changes nothing, and the same input gives the
same files.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from detectors.datasets.grouping import burst_groups, find_duplicates, phash, phash_hex, regex_groups
from detectors.datasets.readers import read_source
from detectors.datasets.records import Problem, Source
from detectors.datasets.split import split_groups
from detectors.datasets.validate import CheckedImage, check_image
from detectors.model_info import read_json_file
from edge.core import progress_bar
from edge.errors import InvalidInput

MANIFEST = "manifest.json"


@dataclass
class ImportOptions:
    format: str = "auto"
    mapping: dict[str, str] = field(default_factory=dict)  # --map FROM=TO (rename or merge)
    drop: list[str] = field(default_factory=list)
    group_by: str | None = None
    val_fraction: float = 0.2


@dataclass
class ImportResult:
    out: Path
    classes: list[str]
    source_images: int
    problems: list[Problem]
    duplicates: int
    groups: int
    counts: dict[str, dict[str, dict[str, int]]]  # split -> class -> {"images": n, "boxes": n}
    split_images: dict[str, int]
    dataset_hash: str


def parse_mapping(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        src, sep, dst = it.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise InvalidInput(f"--map {it!r}: expected FROM=TO (a class name on each side)")
        out[src.strip()] = dst.strip()
    return out


def apply_classes(src: Source, mapping: dict[str, str], drop: list[str]) -> list[str]:
    """Rename/merge/drop class names in place; the new class list keeps the source order."""
    known = set(src.classes)
    for name in list(mapping) + list(drop):
        if name not in known:
            raise InvalidInput(f"class {name!r} (in --map/--drop) is not in the export "
                            f"(its classes: {', '.join(src.classes)})")
    classes = list(dict.fromkeys(mapping.get(c, c) for c in src.classes if c not in drop))
    for im in src.images:
        keep = [i for i, n in enumerate(im.names) if n not in drop]
        im.xyxy = im.xyxy[keep]
        im.names = [mapping.get(im.names[i], im.names[i]) for i in keep]
    return classes


def _safe_name(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_") or "image"


def _label_text(im: CheckedImage, class_id: dict[str, int]) -> str:
    lines = []
    for (x0, y0, x1, y1), n in zip(im.item.xyxy, im.item.names):
        cx, cy = (x0 + x1) / 2 / im.width, (y0 + y1) / 2 / im.height
        w, h = (x1 - x0) / im.width, (y1 - y0) / im.height
        lines.append(f"{class_id[n]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return "".join(lines)


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"-o {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise InvalidInput(f"-o {out}: a non-empty folder that no 'data import' wrote; choose a new or empty folder")


def import_dataset(src_path: Path, out: Path, opts: ImportOptions) -> ImportResult:
    """Import ``src_path`` into ``out`` (replacing an earlier import there)."""
    out = Path(out).resolve()
    _check_target(out)
    if not 0.0 <= opts.val_fraction < 1.0:
        raise InvalidInput(f"--val-fraction {opts.val_fraction}: expected 0 <= F < 1")
    src = read_source(Path(src_path), opts.format)
    classes = apply_classes(src, opts.mapping, opts.drop)
    if not classes:
        raise InvalidInput(f"{src_path}: no classes left to import")
    problems = list(src.problems)
    checked = _check_images(src, problems)
    if not checked:
        raise InvalidInput(f"{src_path}: no usable images ({len(problems)} problems; first: "
                        f"{problems[0].file}: {problems[0].reason})" if problems else f"{src_path}: no images")
    dups, groups, kept, splits = _plan(checked, opts)
    class_id = {c: k for k, c in enumerate(classes)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        entries = _write_images(tmp, [(checked[i], splits[k], groups[i]) for k, i in enumerate(kept)], class_id)
        counts = _counts(entries, classes)
        digest = _digest(tmp, entries, classes)
        manifest = {
            "source": str(Path(src_path).resolve()), "format": src.format, "classes": classes,
            "options": {"map": opts.mapping, "drop": opts.drop, "group_by": opts.group_by,
                        "val_fraction": opts.val_fraction},
            "hash": digest, "counts": counts,
            "images": entries,
            "duplicates": _duplicate_entries(checked, dups),
            "problems": [{"file": p.file, "reason": p.reason, "image_dropped": p.image_dropped} for p in problems],
        }
        _write_descriptions(tmp, out, classes, manifest)
        _move_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    split_images = {s: sum(1 for e in entries if e["split"] == s) for s in ("train", "val")}
    return ImportResult(out, classes, len(src.images) + sum(p.image_dropped for p in src.problems), problems,
                        len(dups), len(set(groups[i] for i in kept)), counts, split_images, digest)


def _plan(checked: list[CheckedImage], opts: ImportOptions) -> tuple[dict[int, int], list[int], list[int], list[str]]:
    """Which images are duplicates (index -> the kept copy), each image's tray group, the indices
    kept, and the split of each kept image (whole groups go to one split)."""
    dups = find_duplicates(checked)
    groups = regex_groups(checked, opts.group_by) if opts.group_by else burst_groups(checked, dups)
    kept = [i for i in range(len(checked)) if i not in dups]
    names = [checked[i].item.path.name for i in kept]
    splits = split_groups([groups[i] for i in kept], names, [set(checked[i].item.names) for i in kept],
                          opts.val_fraction)
    return dups, groups, kept, splits


def _duplicate_entries(checked: list[CheckedImage], dups: dict[int, int]) -> list[dict[str, str]]:
    """The manifest's record of each dropped duplicate and the copy kept, in source-name order."""
    return [{"source": checked[i].item.path.name, "kept": checked[j].item.path.name}
            for i, j in sorted(dups.items(), key=lambda kv: checked[kv[0]].item.path.name)]


def _write_descriptions(tmp: Path, out: Path, classes: list[str], manifest: dict) -> None:
    """manifest.json and data.yaml (its ``path`` the final folder ``out``) into ``tmp``."""
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    data = {"path": str(out), "train": "images/train", "val": "images/val",
            "names": {k: c for k, c in enumerate(classes)}}
    (tmp / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def _check_images(src: Source, problems: list[Problem]) -> list[CheckedImage]:
    """Every source image that passes the checks (the others add to ``problems``), with progress."""
    checked: list[CheckedImage] = []
    with progress_bar(f"Checking {len(src.images)} images", len(src.images)) as advance:
        for item in src.images:
            c = check_image(item, problems)
            if c is not None:
                checked.append(c)
            advance(1)
    return checked


def _write_images(tmp: Path, kept: list[tuple[CheckedImage, str, int]], class_id: dict[str, int]) -> list[dict]:
    """Write each kept (image, split, group) and its label file under ``tmp``; the manifest entries.

    File names are made safe and unique ignoring case (``a``, ``a_2``, ...); both splits'
    folders exist even when one is empty.
    """
    entries, used = [], set()
    for im, split, group in kept:
        stem = _safe_name(im.item.path.stem)
        base, n = stem, 2
        while stem.lower() in used:
            stem, n = f"{base}_{n}", n + 1
        used.add(stem.lower())
        suffix = im.item.path.suffix.lower()
        rel_img = Path("images") / split / f"{stem}{suffix}"
        rel_lbl = Path("labels") / split / f"{stem}.txt"
        for rel, payload in ((rel_img, im.data), (rel_lbl, _label_text(im, class_id).encode())):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(payload)
        entries.append({"file": str(rel_img), "source": str(im.item.path.name), "split": split,
                        "group": group, "sha1": im.sha1, "phash": phash_hex(phash(im.grey)),
                        "width": im.width, "height": im.height,
                        "boxes": dict(sorted(Counter(im.item.names).items()))})
    for split in ("train", "val"):
        (tmp / "images" / split).mkdir(parents=True, exist_ok=True)
        (tmp / "labels" / split).mkdir(parents=True, exist_ok=True)
    return entries


def _digest(tmp: Path, entries: list[dict], classes: list[str]) -> str:
    """The dataset hash: classes, and each image's path, content hash and label text."""
    return hashlib.sha1(json.dumps({"classes": classes, "files": [
        (e["file"], e["sha1"],
         (tmp / str(e["file"]).replace("images", "labels", 1)).with_suffix(".txt").read_text())
        for e in entries]}, sort_keys=True).encode()).hexdigest()


def _move_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` with the finished ``tmp`` folder (an earlier import there goes away)."""
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def _counts(entries: list[dict], classes: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for split in ("train", "val"):
        per = {c: {"images": 0, "boxes": 0} for c in classes}
        for e in entries:
            if e["split"] != split:
                continue
            for c, n in e["boxes"].items():
                per[c]["images"] += 1
                per[c]["boxes"] += n
        out[split] = per
    return out


def load_manifest(dataset: Path) -> dict:
    """The manifest of an imported dataset ({} for a dataset made otherwise, e.g. rendered)."""
    return read_json_file(Path(dataset) / MANIFEST)
