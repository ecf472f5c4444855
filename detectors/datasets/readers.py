"""Reading what labelling tools export, whichever tool wrote it: YOLO (ultralytics, CVAT "YOLO 1.1",
a plain folder), COCO JSON and Pascal VOC XML. This module tells the formats apart; each has
its own reader module.

Each reader only parses: a malformed line, an unknown class id or a missing
image becomes a ``Problem`` naming the file, never an exception. Checking the
pixels and the boxes against the image is ``validate``'s job.
"""
from __future__ import annotations

from pathlib import Path

from detectors.datasets.coco_reader import find_coco_json, read_coco
from detectors.datasets.records import Source
from detectors.datasets.voc_reader import read_voc
from detectors.datasets.yolo_reader import read_yolo
from edge.errors import InvalidInput

FORMATS = ("auto", "yolo", "coco", "voc")


def detect_format(src: Path) -> str:
    """Guess the export format of ``src`` (a folder, or a COCO .json file)."""
    if src.is_file():
        if src.suffix.lower() == ".json":
            return "coco"
        if src.suffix.lower() in (".yaml", ".yml"):
            return "yolo"
        raise InvalidInput(f"{src}: not a dataset folder, a COCO .json or a YOLO data.yaml")
    if not src.is_dir():
        raise InvalidInput(f"{src}: not found")
    if any((src / n).is_file() for n in ("data.yaml", "obj.names", "classes.txt", "obj.data")):
        return "yolo"
    if find_coco_json(src) is not None:
        return "coco"
    if (src / "Annotations").is_dir() or any(src.glob("*.xml")):
        return "voc"
    raise InvalidInput(f"{src}: cannot tell the format (no data.yaml, obj.names or classes.txt for YOLO, no COCO "
                    "JSON, no Annotations/ or .xml for VOC); pass --format")


def read_source(src: Path, fmt: str = "auto") -> Source:
    """Every labelled image of ``src`` in format ``fmt`` (``auto``: guessed), with the problems found."""
    src = Path(src)
    if fmt not in FORMATS:
        raise InvalidInput(f"--format {fmt!r}: unknown (one of {', '.join(FORMATS)})")
    if not src.exists():
        raise InvalidInput(f"{src}: not found")
    fmt = detect_format(src) if fmt == "auto" else fmt
    return {"yolo": read_yolo, "coco": read_coco, "voc": read_voc}[fmt](src)
