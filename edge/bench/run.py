"""``traycheck bench``: the detector rows (every backend on the same frames, in rounds), then the
pipeline, idle and camera rows, and the table that shows them."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from rich.table import Table

from detectors.loader import load_detector
from detectors.model_info import resolve_model
from edge.bench.cameras import bench_cameras
from edge.bench.detectors import FIXTURES, default_fixture, load_frames, time_detectors
from edge.bench.pipeline import bench_idle, bench_pipeline
from edge.bench.stats import latency_row
from edge.core import UserError, console


def run_bench(fixture: Path | None, n: int, threads: int, model: str | None, quiet: bool = False,
              pipeline: bool = True, cameras: int = 0, cameras_seconds: float = 60.0,
              also: list[str] | None = None) -> dict:
    """``also``: more model families (DIR/NAME) whose fp32 and INT8 files take turns in the same rounds
    on the same frames, so a site's model is timed beside the bundled one in one run."""
    source = fixture or default_fixture()
    frames = load_frames(source, n)
    plan = [("ultralytics", "pt", "ultralytics", model), ("onnx-fp32", "fp32", "onnx", model),
            ("onnx-int8", "int8", "onnx", model)]
    for family in also or []:
        label = Path(family).name
        plan += [(f"{label}-fp32", "fp32", "onnx", family), (f"{label}-int8", "int8", "onnx", family)]
    dets, files, errors = {}, {}, {}
    for name, variant, backend, ref in plan:
        path = resolve_model(ref, variant)
        try:
            dets[name] = load_detector(path, backend=backend, threads=threads)
            files[name] = path.name
        except UserError as exc:
            if backend == "ultralytics":  # the train extra is optional on a box
                errors[name] = str(exc)
                continue
            raise
    lat = time_detectors(dets, frames, quiet)
    rows: list[dict[str, Any]] = []
    for name, *_ in plan:
        if name in errors:
            rows.append({"name": name, "fps": None, "p50_ms": None, "p95_ms": None, "error": errors[name]})
        else:
            rows.append(dict(latency_row(name, lat[name]), model=files[name]))
    del dets
    if pipeline:
        console.print("bench pipeline (replay at max speed) and idle (empty station, 15 fps)...")
        rows.append(bench_pipeline(source, model, threads))
        rows.append(bench_idle(model, threads))
    if cameras:
        shifts = sorted(p.parent for p in FIXTURES.glob("*/video.mp4")) or [source]
        console.print(f"bench cameras-{cameras} ({cameras} cameras in real time for {cameras_seconds:.0f} s, INT8)...")
        rows.append(bench_cameras(shifts, cameras, model, "int8", threads, cameras_seconds))
    base = rows[0]["fps"]
    for r in rows:
        r["speedup_vs_ultralytics"] = round(r["fps"] / base, 2) if (base and r["fps"]) else None
    fp32 = next((r["fps"] for r in rows if r["name"] == "onnx-fp32"), None)
    for r in rows:
        if r["name"] == "pipeline" and fp32:
            r["vs_onnx_fp32"] = round(r["fps"] / fp32, 3)
    return {"fixture": str(source), "frames": len(frames), "frame_size": list(frames[0].shape[1::-1]),
            "threads": threads, "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "rows": rows}


def print_table(result: dict) -> None:
    t = Table(title=f"Detector speed on {result['frames']} frames of {Path(result['fixture']).name} "
                    f"({result['threads']} threads, {result['cores']} cores)")
    for col in ("row", "model", "fps", "p50 ms", "p95 ms", "× ultralytics", "notes"):
        t.add_column(col, justify="left" if col in ("backend", "model") else "right")
    for r in result["rows"]:
        if r["fps"] is None:
            t.add_row(r["name"], "-", "-", "-", "-", r.get("error", ""))
            continue
        notes = []
        if "vs_onnx_fp32" in r:
            notes.append(f"{100 * r['vs_onnx_fp32']:.0f} % of onnx-fp32 fps")
        if "cpu_percent" in r:
            notes.append(f"{r['cpu_percent']:.1f} % of one core")
        if "keeps_up" in r:
            notes.append(f"{'keeps up' if r['keeps_up'] else 'FALLS BEHIND'}: lag {r['lag_first_10s_s']:.2f} s "
                         f"-> {r['lag_last_10s_s']:.2f} s, {r['stream_fps_each']:.1f} fps each")
        if "detector_frames" in r:
            notes.append(f"detector on {r['detector_frames']} frames")
        t.add_row(r["name"], r.get("model", ""), f"{r['fps']:.1f}", f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
                  f"{r['speedup_vs_ultralytics']:.2f}" if r["speedup_vs_ultralytics"] else "-", "; ".join(notes))
    console.print(t)
