"""``traycheck data``: labelled photos in and out (import from labelling tools, export for them)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from detectors.datasets.importer import ImportOptions, import_dataset, parse_mapping
from edge.app.data_export import export_trays, parse_when
from edge.cli.datasets_report import print_import
from edge.cli.options import appliance_db, optional_config_option, rehearsal_data_dir_option
from edge.core import progress_bar

data_app = typer.Typer(no_args_is_help=True,
                       help="Labelled photos: import a labelling tool's export as a dataset; export "
                            "stored trays for labelling.")


@data_app.command("import")
def data_import(src: Path = typer.Argument(..., help="the export: a folder (YOLO, CVAT YOLO 1.1, VOC) or a "
                                                     "COCO .json"),
                out: Path = typer.Option(..., "-o", "--out", help="dataset folder to write (an earlier import "
                                                                  "there is replaced)"),
                fmt: str = typer.Option("auto", "--format", help="auto, yolo, coco or voc"),
                mapping: list[str] = typer.Option([], "--map", help="FROM=TO: rename a class, or merge it into "
                                                                    "another (repeat)"),
                drop: list[str] = typer.Option([], "--drop", help="remove a class and its boxes (repeat)"),
                group_by: Optional[str] = typer.Option(None, "--group-by",
                                                       help="REGEX on the file name; its first group (or match) "
                                                            "names the tray (default: bursts of shots)"),
                val_fraction: float = typer.Option(0.2, "--val-fraction", help="share of images in val (by "
                                                                               "group)")) -> None:
    """Import labelled photos: check them, drop duplicates, split train/val by tray, write a dataset
    ultralytics reads as is (data.yaml, images/, labels/, manifest.json)."""
    res = import_dataset(src, out, ImportOptions(fmt.lower(), parse_mapping(mapping), list(drop), group_by,
                                                 val_fraction))
    print_import(res)


@data_app.command("export")
def data_export(out: Path = typer.Option(..., "-o", "--out", help="new (or empty) folder to write to"),
                since: str = typer.Option(..., help="trays stored from: a local day YYYY-MM-DD or an ISO date-time"),
                until: Optional[str] = typer.Option(None, help="up to (a day counts whole; a date-time is "
                                                               "exclusive); default: now"),
                fmt: str = typer.Option("yolo", "--format", help="yolo (images/, labels/, obj.names, data.yaml) "
                                                                 "or coco (images/, annotations.json)"),
                flagged_only: bool = typer.Option(False, "--flagged-only",
                                                  help="only trays a manager flagged 'counted wrong'"),
                config: Optional[Path] = optional_config_option(),
                data_dir: Optional[Path] = rehearsal_data_dir_option()) -> None:
    """Export stored trays (clean zone snapshots, the detector's boxes as pre-labels) for a labelling
    tool; flagged trays first. The database is only read."""
    from contextlib import ExitStack

    db = appliance_db(config, data_dir)
    start = parse_when(since, "--since")
    end = parse_when(until, "--until", end=True) if until is not None else None
    with ExitStack() as bar:  # the bar opens once the number of trays is known
        res = export_trays(db, db.parent / "snapshots", out, start, end, fmt.lower(), flagged_only,
                           progress=lambda n: bar.enter_context(progress_bar("Exporting trays", n)))
    per_class = ", ".join(f"{n} {k}" for k, n in sorted(res.per_class.items())) or "none"
    typer.echo(f"exported {res.trays} trays ({res.flagged} flagged) to {out} as {res.fmt}; "
               f"boxes per class: {per_class}")
    for reason, n in res.skipped.items():
        typer.echo(f"left out {n} trays: {reason}")
