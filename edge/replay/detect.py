"""``traycheck detect``: the detector over a recorded video, with an annotated copy
and a per-tray summary (compared with truth.jsonl when the folder has one).

This is the detector on its own; the full verification pipeline (tracking,
orders, verdicts) is ``traycheck replay``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from detectors.drawing import annotate
from detectors.loader import load_detector
from detectors.synth.video import VideoWriter
from edge.core import output_console, progress_bar
from edge.errors import InvalidInput
from edge.sources.video_file import VideoFile, shift_video

# the results (the per-tray table, the totals) go to stdout as docs/cli.md says, progress and messages to stderr
results = output_console(stderr=False)

def _read_truth(folder: Path) -> list[dict]:
    path = folder / "truth.jsonl"
    if not path.is_file():
        return []
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: line {exc.lineno}: not valid JSON") from None


def detect_video(source: Path, model: str | None, variant: str, out: Path | None, threads: int) -> list[dict]:
    video_path = shift_video(source)
    video = VideoFile(video_path)
    det = load_detector(model, variant, threads=threads)
    n_cls = len(det.classes)
    times, counts = [], []
    writer = None
    if out is not None:
        writer = VideoWriter(Path(out), video.width, video.height, int(round(video.fps))).__enter__()
    t0 = time.perf_counter()
    try:
        with progress_bar(f"Detecting {video_path.name}", video.frame_count) as advance:
            for t, frame in video:
                dets = det.detect(frame)
                times.append(t)
                counts.append(dets.counts(n_cls))
                if writer is not None:
                    writer.write(annotate(frame, dets, det.classes))
                advance(1)
    finally:
        if writer is not None:
            writer.__exit__(None, None, None)
    elapsed = time.perf_counter() - t0
    ts, cs = np.array(times), np.array(counts).reshape(-1, n_cls)
    truth = _read_truth(Path(source)) if Path(source).is_dir() else []
    rows = tray_summary(ts, cs, det.classes, truth)
    _print_summary(rows, bool(truth))
    results.print(f"{len(ts)} frames in {elapsed:.1f} s ({len(ts) / elapsed:.1f} fps)"
                  + (f"; annotated video: {out}" if out else ""))
    return rows


def tray_summary(ts: np.ndarray, cs: np.ndarray, classes: tuple[str, ...], truth: list[dict]) -> list[dict]:
    """Per tray: the per-class median count over its first second at rest (vs truth 'placed')."""
    rows = []
    windows: list[tuple[float, float, dict | None]]
    if truth:
        windows = [(r["rest_t"], min(r["rest_t"] + 1.0, r["leave_t"]), r) for r in truth]
    else:  # no truth: a tray is a run of >= 1 s of frames with detections
        busy = cs.sum(axis=1) > 0
        windows, start = [], None
        for t, b in zip(ts, busy):
            if b and start is None:
                start = t
            if not b and start is not None:
                if t - start >= 1.0:
                    windows.append((start + (t - start) / 2 - 0.5, start + (t - start) / 2 + 0.5, None))
                start = None
    for a, b, r in windows:
        sel = (ts >= a) & (ts < b)
        if not sel.any():
            continue
        med = np.round(np.median(cs[sel], axis=0)).astype(int)
        seen = {classes[i]: int(n) for i, n in enumerate(med) if n > 0}
        row = {"t": round(float(a), 2), "seen": seen}
        if r is not None:
            row.update(order_id=r["order_id"], placed=r["placed"], correct=seen == r["placed"])
        rows.append(row)
    return rows


def _fmt(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "-"


def _print_summary(rows: list[dict], with_truth: bool) -> None:
    table = Table(title="Per-tray summary (median counts over the first second at rest)")
    table.add_column("t (s)", justify="right")
    if with_truth:
        table.add_column("order")
    table.add_column("seen")
    if with_truth:
        table.add_column("on the tray (truth)")
        table.add_column("match")
    for r in rows:
        cells = [f"{r['t']:.1f}"]
        if with_truth:
            cells.append(r["order_id"])
        cells.append(_fmt(r["seen"]))
        if with_truth:
            cells += [_fmt(r["placed"]), "[green]yes[/green]" if r["correct"] else "[red]no[/red]"]
        table.add_row(*cells)
    results.print(table)
    if with_truth and rows:
        ok = sum(r["correct"] for r in rows)
        results.print(f"counts right on {ok}/{len(rows)} trays ({100 * ok / len(rows):.1f} %)")
