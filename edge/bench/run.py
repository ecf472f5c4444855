"""``traycheck bench``: the detector rows (every backend on the same frames, in rounds), then the
pipeline, idle, shared-detector and cameras-N rows, and the table that shows them.

Rows compare like with like: ``speedup_vs_ultralytics`` only between the detector rows (the
same frames, one call each); the pipeline row reports what it adds to the detector in the same
run; the shared-detector row compares 2 callers with 1 on the same model; cameras-N rows say
whether N real-time cameras keep up."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from detectors.detections import ModelDetector
from detectors.loader import load_detector
from detectors.model_info import int8_choice, resolve_model
from edge.bench.cameras import bench_cameras
from edge.bench.detectors import FIXTURES, default_fixture, load_frames, time_detectors
from edge.bench.pipeline import bench_idle, bench_pipeline
from edge.bench.shared import bench_shared
from edge.bench.stats import latency_row, rss_mb
from edge.core import console
from edge.errors import InvalidInput, TrayCheckError

Plan = list[tuple[str, str, str, str | None]]  # detector rows: (row name, variant, backend, model reference)


def run_bench(fixture: Path | None, n: int, threads: int, model: str | None, quiet: bool = False,
              pipeline: bool = True, cameras: list[int] | None = None, cameras_seconds: float = 30.0,
              also: list[str] | None = None, shared_seconds: float = 12.0, ultralytics: bool = True,
              idle_seconds: float = 20.0) -> dict:
    """``also``: more model families (DIR/NAME) whose fp32 and INT8 files take turns in the same rounds
    on the same frames, so a site's model is timed beside the bundled one in one run. ``cameras``: the
    N of the cameras-N rows (empty: none). The pipeline and camera rows run the file the service
    would (``int8: auto``)."""
    source = fixture or default_fixture()
    frames = load_frames(source, n, stream=True)
    n_frames, frame_size = len(frames), list(frames[0].shape[1::-1])
    rows = _detector_rows(_plan(model, also, ultralytics), frames, threads, quiet)
    use_int8, why = int8_choice(model)
    variant = "int8" if use_int8 else "fp32"
    if pipeline:
        rows += _pipeline_rows(frames, model, variant, threads, idle_seconds, shared_seconds)
    peak = rss_mb()
    del frames  # the camera rows decode their own: the detector rows' frames are not kept beside them
    if cameras:
        rows += _camera_rows(source, cameras, model, variant, threads, cameras_seconds)
    return {"fixture": str(source), "frames": n_frames, "frame_size": frame_size,
            "threads": threads, "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "variant": variant, "variant_why": why, "rss_mb_after_detector_rows": round(peak, 1), "rows": rows}


def _plan(model: str | None, also: list[str] | None, ultralytics: bool) -> Plan:
    """The detector rows: ultralytics (the reference, when asked for), the ONNX pair, then each ``also`` pair."""
    plan: Plan = [("ultralytics", "pt", "ultralytics", model)] if ultralytics else []
    plan += [("onnx-fp32", "fp32", "onnx", model), ("onnx-int8", "int8", "onnx", model)]
    for family in also or []:
        label = Path(family).name
        plan += [(f"{label}-fp32", "fp32", "onnx", family), (f"{label}-int8", "int8", "onnx", family)]
    return plan


def _load_plan(plan: Plan, threads: int) -> tuple[dict[str, ModelDetector], dict[str, str], dict[str, str]]:
    """The detectors of the plan, their file names, and why a row has none (only ultralytics may be
    missing: the train extra is optional on a box; any other failure is the caller's error)."""
    dets, files, errors = {}, {}, {}
    for name, variant, backend, ref in plan:
        path = resolve_model(ref, variant)
        try:
            dets[name] = load_detector(path, backend=backend, threads=threads)
            files[name] = path.name
        except TrayCheckError as exc:
            if backend != "ultralytics":
                raise
            errors[name] = str(exc)
    return dets, files, errors


def _detector_rows(plan: Plan, frames: list[np.ndarray], threads: int, quiet: bool) -> list[dict[str, Any]]:
    """Every detector on the same frames in rounds; the speedup only between these rows (one call each).
    The detectors are released on return, before the pipeline rows load theirs."""
    dets, files, errors = _load_plan(plan, threads)
    lat = time_detectors(dets, frames, quiet)
    rows: list[dict[str, Any]] = []
    for name, *_ in plan:
        if name in errors:
            rows.append({"name": name, "fps": None, "p50_ms": None, "p95_ms": None, "error": errors[name]})
        else:
            rows.append(dict(latency_row(name, lat[name]), model=files[name]))
    base = rows[0]["fps"] if plan[0][2] == "ultralytics" else None
    for r in rows:
        r["speedup_vs_ultralytics"] = round(r["fps"] / base, 2) if (base and r["fps"]) else None
    return rows


def _pipeline_rows(frames: list[np.ndarray], model: str | None, variant: str, threads: int, idle_seconds: float,
                   shared_seconds: float) -> list[dict]:
    """The pipeline, idle and shared-detector rows, on the file the service would run."""
    console.print(f"bench pipeline (the same frames, warm, {variant}) and idle (empty station, 15 fps)...")
    rows = [bench_pipeline(frames, model, variant, threads), bench_idle(model, variant, threads, idle_seconds)]
    console.print(f"bench shared-detector (1 and 2 callers, {shared_seconds:.0f} s each)...")
    rows.append(bench_shared(frames, model, variant, threads, shared_seconds))
    return rows


def _camera_rows(source: Path, cameras: list[int], model: str | None, variant: str, threads: int,
                 seconds: float) -> list[dict]:
    """One cameras-N row per N, all on one shared model (as ``traycheck run`` loads it)."""
    shifts = sorted(p.parent for p in FIXTURES.glob("*/video.mp4")) or [source]
    det = load_detector(model, variant, threads=threads, shared=True)
    rows = []
    for n_cams in cameras:
        console.print(f"bench cameras-{n_cams} ({n_cams} cameras in real time for {seconds:.0f} s, {variant})...")
        rows.append(bench_cameras(shifts, n_cams, model, variant, threads, seconds, detector=det))
    return rows


def camera_counts(text: str) -> list[int]:
    """``--cameras 1,2,4,8`` -> [1, 2, 4, 8]; ``0`` or empty: no cameras-N rows."""
    try:
        counts = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise InvalidInput(f"--cameras {text!r}: expected whole numbers separated by commas, e.g. 1,2,4,8") from None
    if any(c < 0 or c > 64 for c in counts):
        raise InvalidInput(f"--cameras {text!r}: each N must be between 0 and 64")
    return [c for c in counts if c > 0]


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
        if r.get("overhead_fraction") is not None:
            notes.append(f"overhead {r['overhead_ms']:.2f} ms per detected frame = "
                         f"{100 * r['overhead_fraction']:.0f} % of the detector's {r['detector_p50_ms']:.1f} ms "
                         f"({r['overhead_ms_per_frame']:.2f} ms a frame)")
        if "cpu_percent" in r:
            notes.append(f"{r['cpu_percent']:.1f} % of one core")
        if "speedup_2_vs_1" in r:
            notes.append(f"2 callers {r['speedup_2_vs_1']:.2f}x 1 caller ({r['fps_1_caller']:.1f} fps); one "
                         f"session in turn {r['fps_2_callers_one_session_in_turn']:.1f} fps")
        if "keeps_up" in r:
            lat = f"{r['latency_p95_s']:.2f} s" if r["latency_p95_s"] is not None else "-"
            notes.append(f"{'keeps up' if r['keeps_up'] else 'FALLS BEHIND'}: lag {r['lag_start_s']:.2f} s "
                         f"-> {r['lag_end_s']:.2f} s, {100 * r['dropped_fraction']:.1f} % dropped, "
                         f"{min(r['fps_each']):.1f}-{max(r['fps_each']):.1f} fps each, verdict p95 {lat}, "
                         f"{r['rss_mb']:.0f} MB")
        if "detector_frames" in r:
            notes.append(f"detector on {r['detector_frames']} frames")
        speedup = r.get("speedup_vs_ultralytics")
        t.add_row(r["name"], r.get("model", ""), f"{r['fps']:.1f}", f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
                  f"{speedup:.2f}" if speedup else "-", "; ".join(notes))
    console.print(t)
