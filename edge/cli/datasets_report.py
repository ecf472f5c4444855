"""What ``data import`` prints: problems, duplicates, groups and a per-class table per split."""
from __future__ import annotations

from rich.table import Table

from detectors.datasets.importer import ImportResult
from edge.core import console

SHOW_PROBLEMS = 20


def print_import(res: ImportResult) -> None:
    dropped = sum(p.image_dropped for p in res.problems)
    for p in res.problems[:SHOW_PROBLEMS]:
        what = "image skipped" if p.image_dropped else "box skipped"
        console.print(f"[yellow]{what}:[/yellow] {p.file}: {p.reason}", highlight=False, soft_wrap=True)
    if len(res.problems) > SHOW_PROBLEMS:
        console.print(f"... and {len(res.problems) - SHOW_PROBLEMS} more problems (all in manifest.json)")
    table = Table(title=f"{res.out}  (hash {res.dataset_hash[:12]})")
    table.add_column("class")
    for split in ("train", "val"):
        table.add_column(f"{split} images", justify="right")
        table.add_column(f"{split} boxes", justify="right")
    for c in res.classes:
        table.add_row(c, *(str(res.counts[s][c][k]) for s in ("train", "val") for k in ("images", "boxes")))
    table.add_row("[bold]all[/bold]", str(res.split_images["train"]),
                  str(sum(v["boxes"] for v in res.counts["train"].values())), str(res.split_images["val"]),
                  str(sum(v["boxes"] for v in res.counts["val"].values())))
    console.print(table)
    console.print(f"{res.source_images} source images: {dropped} unusable, {res.duplicates} duplicates removed, "
                  f"{len(res.problems) - dropped} boxes skipped; {res.groups} groups (trays) split by group "
                  f"into {res.split_images['train']} train / {res.split_images['val']} val images")
