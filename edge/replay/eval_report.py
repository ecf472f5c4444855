"""Run ``eval`` over one shift or a folder of shifts, and print the report."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from detectors.loader import load_detector
from edge.core import UserError
from edge.replay.evaluate import score_shift, summarize
from edge.core import console
from edge.replay.runner import replay_folder
from edge.sources.shift_files import read_jsonl
from orders.menu import load_menu


def shift_folders(path: Path) -> list[Path]:
    path = Path(path)
    if (path / "truth.jsonl").is_file():
        return [path]
    if path.is_dir():
        found = sorted(p.parent for p in path.glob("*/truth.jsonl"))
        if found:
            return found
    raise UserError(f"{path}: no truth.jsonl here or in its subfolders (not a recorded shift)")


def evaluate_path(path: Path, verdicts: Path | None, model: str | None, variant: str, threads: int,
                  quiet: bool = False, menu_file: Path | None = None) -> dict:
    """Score verdicts (given, or replayed now with the model and the shift's menu or ``menu_file``)."""
    folders = shift_folders(path)
    menu = load_menu(menu_file) if menu_file is not None else None
    if verdicts is not None and len(folders) > 1:
        raise UserError("--verdicts scores one shift; give a shift folder, not a folder of shifts")
    detector = None
    scored = []
    for folder in folders:
        if verdicts is not None:
            if not verdicts.is_file():
                raise UserError(f"{verdicts}: not found")
            records = read_jsonl(verdicts)
        else:
            detector = detector or load_detector(model, variant, threads=threads)
            records = replay_folder(folder, detector, None, progress=not quiet, menu=menu).verdicts
        scored.append(score_shift(folder, records))
    report = summarize(scored)
    report["per_shift"] = [summarize([s]) | {"shift": s["shift"]} for s in scored]
    report["wrong_trays"] = [dict(r, shift=s["shift"]) for s in scored for r in s["trays"]
                             if not (r["initial_right"] and r["final_right"])]
    return report


def print_report(report: dict) -> None:
    t = Table(title="Verdicts against truth")
    cols = ["shift", "trays", "initial acc %", "final acc %", "mismatch recall %", "false alerts %",
            "missed", "latency p50 s", "p95 s"]
    for c in cols:
        t.add_column(c, justify="left" if c == "shift" else "right")
    keys = ["trays", "initial_accuracy", "final_accuracy", "mismatch_recall", "false_alert_rate",
            "missed_trays", "latency_p50_s", "latency_p95_s"]
    for r in report["per_shift"] + ([report | {"shift": "all"}] if len(report["per_shift"]) > 1 else []):
        t.add_row(r["shift"], *("-" if r[k] is None else str(r[k]) for k in keys))
    console.print(t)
    errors = ", ".join(f"{k} {v}" for k, v in report["count_errors"].items() if v)
    console.print(f"count errors per class (first verdict vs truth): {errors or 'none'}")
    for w in report["wrong_trays"]:
        console.print(f"  wrong: {w['shift']} order {w['order_id']}: truth {w['truth_initial']}->{w['truth_final']}, "
                      f"got {w['initial']}->{w['final']}")
