"""``traycheck data export``: stored trays out to a labelling tool, the detector's boxes as pre-labels.

Learning from the live box: the clean zone snapshot of every tray (see
``edge.store.snapshots``) with the boxes the detector drew on it, in YOLO
(``images/``, ``labels/``, ``obj.names``, ``data.yaml``) or COCO (``images/``,
``annotations.json``) layout, which CVAT and Label Studio import. Trays a manager
flagged "counted wrong" come first: they are the ones worth correcting.

The database is opened read-only (``mode=ro``, ``query_only``): exporting never
changes it, and it can run while the service writes.
"""
from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from edge.errors import InvalidInput
from edge.store.db import MIGRATIONS, schema_version

FORMATS = ("yolo", "coco")
NEEDS_SCHEMA = 3  # trays.boxes and the "counted wrong" flag
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_when(value: str, option: str, end: bool = False) -> datetime:
    """``YYYY-MM-DD`` (a local day: its start, or with ``end`` the start of the next day, so that
    ``--until`` includes the day) or an ISO date-time (local time unless it names a zone), in UTC."""
    try:
        if _DAY.fullmatch(value):
            day = datetime.strptime(value, "%Y-%m-%d") + (timedelta(days=1) if end else timedelta())
            return day.astimezone().astimezone(timezone.utc)
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} {value!r}: expected a local day YYYY-MM-DD or an ISO date-time "
                        f"like 2026-11-25T11:30 (local) or 2026-11-25T10:30Z") from None
    return when.astimezone(timezone.utc)  # a naive time is the box's local time


def _iso(dt: datetime) -> str:
    """The database's timestamp format (UTC, sorts as text)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ExportResult:
    out: Path
    fmt: str
    trays: int = 0
    flagged: int = 0
    per_class: Counter = field(default_factory=Counter)
    classes: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> trays


def open_readonly(db_path: Path) -> sqlite3.Connection:
    """The database, read-only; a clear error when it is missing or older than the export needs."""
    if not db_path.is_file():
        raise InvalidInput(f"{db_path}: no TrayCheck database here (check --data-dir / data_dir in the config)")
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only=ON")
        version = schema_version(conn)
    except sqlite3.Error as exc:
        raise InvalidInput(f"{db_path}: cannot read it as a TrayCheck database ({exc})") from None
    if version < NEEDS_SCHEMA:
        conn.close()
        raise InvalidInput(f"{db_path}: schema version {version}, the export needs {NEEDS_SCHEMA} or later; start the "
                        f"service once (or run 'traycheck users list --data-dir DIR') to upgrade it")
    if version > len(MIGRATIONS):
        conn.close()
        raise InvalidInput(f"{db_path}: schema version {version} is newer than this traycheck knows "
                        f"({len(MIGRATIONS)}); update traycheck")
    return conn


def _class_list(rows: list[dict]) -> list[str]:
    """One class list for the whole export: the newest model's classes, then any other model's
    names not in it (trays may come from models with different class lists)."""
    names: list[str] = []
    for r in sorted(rows, key=lambda r: r["created_at"], reverse=True):
        for n in r["boxes"]["classes"]:
            if n not in names:
                names.append(n)
    return names


def _file_stem(rank: int, r: dict) -> str:
    """Sorts in export order (flagged first): ``00001-flagged-expo-1-20261125T113015-tray42``."""
    cam = re.sub(r"[^A-Za-z0-9_-]+", "_", r["camera"])
    when = re.sub(r"[-:]", "", r["created_at"][:19])
    return f"{rank:05d}-{'flagged-' if r['flagged_at'] else ''}{cam}-{when}-tray{r['id']}"


def select_trays(conn: sqlite3.Connection, snapshot_root: Path, since: datetime, until: datetime | None,
                 flagged_only: bool) -> tuple[list[dict], Counter]:
    """Trays in [since, until) with a snapshot file and stored boxes, flagged first, then oldest first;
    and the count of trays left out, by reason."""
    sql = ("SELECT id, camera, run, seq, order_id, verdict, seen, expected, snapshot, boxes, created_at, "
           "flagged_at, flagged_by, flag_note FROM trays WHERE created_at >= ?")
    args: list = [_iso(since)]
    if until is not None:
        sql += " AND created_at < ?"
        args.append(_iso(until))
    if flagged_only:
        sql += " AND flagged_at IS NOT NULL"
    sql += " ORDER BY flagged_at IS NULL, created_at, id"
    root = snapshot_root.resolve()
    rows: list[dict] = []
    skipped: Counter[str] = Counter()
    for row in conn.execute(sql, args):
        r = dict(row)
        if not r["snapshot"]:
            skipped["no snapshot (disk floor reached)"] += 1
            continue
        if r["boxes"] is None:
            skipped["stored before boxes were kept (boxes drawn into the image)"] += 1
            continue
        path = (root / r["snapshot"]).resolve()
        if root not in path.parents or not path.is_file():
            skipped["snapshot file missing"] += 1
            continue
        r["path"], r["boxes"] = path, json.loads(r["boxes"])
        r["seen"], r["expected"] = json.loads(r["seen"]), json.loads(r["expected"])
        rows.append(r)
    return rows, skipped


def _prepare_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"-o {out}: exists and is not an empty folder; export into a new folder")
    (out / "images").mkdir(parents=True, exist_ok=True)


def _write_labels(out: Path, fmt: str, rank: int, stem: str, r: dict, index: dict[str, int], res: ExportResult,
                  coco: dict) -> None:
    """One tray's pre-labels: a YOLO label file, or its COCO image and annotations."""
    w, h = r["boxes"]["size"]
    names = r["boxes"]["classes"]
    lines = []
    for x0, y0, x1, y1, k, conf in r["boxes"]["boxes"]:
        cls = index[names[k]]
        res.per_class[names[k]] += 1
        if fmt == "yolo":
            lines.append(f"{cls} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} "
                         f"{(y1 - y0) / h:.6f}")
        else:
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": rank, "category_id": cls + 1,
                "bbox": [x0, y0, round(x1 - x0, 1), round(y1 - y0, 1)],
                "area": round((x1 - x0) * (y1 - y0), 1), "iscrowd": 0, "score": conf})
    if fmt == "yolo":
        (out / "labels").mkdir(exist_ok=True)
        (out / "labels" / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
    else:
        coco["images"].append({"id": rank, "file_name": f"{stem}.jpg", "width": w, "height": h})


def _write_class_lists(out: Path, fmt: str, classes: list[str], coco: dict) -> None:
    """The class list in every form labelling tools read (YOLO), or the COCO file with it."""
    if fmt == "yolo":
        names_text = "".join(n + "\n" for n in classes)
        (out / "obj.names").write_text(names_text)
        (out / "classes.txt").write_text(names_text)  # Label Studio's name for the same list
        data = {"path": str(out.resolve()), "train": "images", "val": "images", "nc": len(classes),
                "names": {i: n for i, n in enumerate(classes)}}
        (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    else:
        (out / "annotations.json").write_text(json.dumps(coco, indent=1))


def export_trays(db_path: Path, snapshot_root: Path, out: Path, since: datetime, until: datetime | None = None,
                 fmt: str = "yolo", flagged_only: bool = False,
                 progress: Callable[[int], Callable[[int], None]] | None = None) -> ExportResult:
    """Write the trays' clean snapshots and pre-labels to ``out``; nothing in the database changes.

    ``progress(n)`` returns the per-tray advance callback (the CLI's progress bar)."""
    rows, skipped, span = _trays_to_export(db_path, snapshot_root, since, until, fmt, flagged_only)
    _prepare_out(out)
    res = ExportResult(out, fmt, classes=_class_list(rows), skipped=skipped)
    index = {n: i for i, n in enumerate(res.classes)}
    advance = progress(len(rows)) if progress else (lambda n=1: None)
    coco = _coco_head(span, res.classes)
    manifest = []
    for rank, r in enumerate(rows, start=1):
        stem = _file_stem(rank, r)
        shutil.copyfile(r["path"], out / "images" / f"{stem}.jpg")
        _write_labels(out, fmt, rank, stem, r, index, res, coco)
        res.trays += 1
        res.flagged += bool(r["flagged_at"])
        manifest.append(_manifest_entry(stem, r))
        advance(1)
    _write_class_lists(out, fmt, res.classes, coco)
    (out / "trays.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifest))
    return res


def _trays_to_export(db_path: Path, snapshot_root: Path, since: datetime, until: datetime | None, fmt: str,
                     flagged_only: bool) -> tuple[list[dict], Counter, str]:
    """The options checked, then the trays to export, what was left out and why, and the span in words;
    no tray at all is bad input (said before ``out`` is touched)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if until is not None and until <= since:
        raise InvalidInput(f"--until {_iso(until)} is not after --since {_iso(since)}")
    conn = open_readonly(db_path)
    try:
        rows, skipped = select_trays(conn, snapshot_root, since, until, flagged_only)
    finally:
        conn.close()
    span = f"since {_iso(since)}" + (f" until {_iso(until)}" if until else "")
    if not rows:
        why = "; ".join(f"{n} {reason}" for reason, n in skipped.items())
        raise InvalidInput(f"no {'flagged ' if flagged_only else ''}trays to export {span} in {db_path}"
                           + (f" (left out: {why})" if why else ""))
    return rows, skipped, span


def _coco_head(span: str, classes: list[str]) -> dict:
    """The COCO document before its images and annotations (filled tray by tray)."""
    return {"info": {"description": f"TrayCheck trays {span}", "date_created": _iso(datetime.now())},
            "licenses": [], "images": [], "annotations": [],
            "categories": [{"id": i + 1, "name": n, "supercategory": "item"} for i, n in enumerate(classes)]}


def _manifest_entry(stem: str, r: dict) -> dict:
    """One line of ``trays.jsonl``: the image and what the box knew about its tray."""
    return {"image": f"images/{stem}.jpg", "tray_id": r["id"], "camera": r["camera"],
            "order_id": r["order_id"], "verdict": r["verdict"], "created_at": r["created_at"],
            "flagged": bool(r["flagged_at"]), "flagged_by": r["flagged_by"], "note": r["flag_note"],
            "seen": r["seen"], "expected": r["expected"], "model": r["boxes"].get("model")}
