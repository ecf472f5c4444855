"""``traycheck eval --cameras N``: the shifts replayed on N cameras at once, in real time (15 fps),
all sharing one model as ``traycheck run`` does; camera i replays shift i modulo the number of
shifts, and each camera is scored as a single replay is.

Why: ``bench``'s cameras-N rows say whether N busy cameras keep up for half a minute; this says
whether every station still gets every verdict right over whole shifts when they are all busy at
once. A camera that falls behind drops late frames (as a live camera does), and a dropped frame
is one the pipeline never saw: the report counts them per camera.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from detectors.detections import ModelDetector
from detectors.loader import load_detector
from edge.core import progress_bar
from edge.errors import InvalidInput, TrayCheckError
from edge.replay.health_eval import stream_seconds
from edge.replay.replay_score import replay_and_score
from edge.replay.replay_settings import ReplayOptions
from orders.menu import Menu


def _camera(i: int, folder: Path, detector: ModelDetector, menu: Menu | None, out: dict[int, dict],
            errors: list[str]) -> None:
    name = f"expo-{i + 1}"
    try:
        scored, r = replay_and_score(folder, detector, menu, ReplayOptions(
            speed=1.0, camera=name, progress=False, drop_late=True, run_id=f"eval-cameras:{name}"))
        out[i] = scored | {"shift": f"{folder.name} on {name}", "camera": name, "frames": r.frames,
                           "dropped": r.dropped}
    except TrayCheckError as exc:
        errors.append(f"{name} ({folder.name}): {exc}")
    except Exception as exc:  # a camera thread must not die silently: the report would lack it
        errors.append(f"{name} ({folder.name}): {type(exc).__name__}: {exc}")


def score_on_cameras(folders: list[Path], n: int, model: str | None, variant: str, threads: int,
                     menu: Menu | None = None, quiet: bool = False) -> tuple[list[dict], dict]:
    """Every camera's scored shift (``score_shift`` rows, named "SHIFT on expo-K") and the cameras'
    summary: how many, frames seen and dropped (in all and per camera)."""
    detector = load_detector(model, variant, threads=threads, shared=True)
    plan = [folders[i % len(folders)] for i in range(n)]
    longest = max(stream_seconds(f) for f in set(plan))
    out: dict[int, dict] = {}
    errors: list[str] = []
    workers = [threading.Thread(target=_camera, args=(i, f, detector, menu, out, errors),
                                daemon=True, name=f"eval camera {i + 1}") for i, f in enumerate(plan)]
    t0 = time.monotonic()
    with progress_bar(f"{n} cameras in real time (s)", int(longest) + 1 if not quiet else None) as advance:
        for w in workers:
            w.start()
        shown = 0
        for w in workers:
            while w.is_alive():
                w.join(timeout=0.5)
                now = min(int(time.monotonic() - t0), int(longest) + 1)
                if now > shown and not quiet:
                    advance(now - shown)
                    shown = now
    if errors:
        raise InvalidInput("--cameras: " + "; ".join(errors))
    scored = [out[i] for i in range(n)]
    frames = sum(s["frames"] for s in scored)
    dropped = sum(s["dropped"] for s in scored)
    summary = {"cameras": n, "frames": frames, "dropped": dropped,
               "dropped_fraction": round(dropped / max(frames + dropped, 1), 4),
               "per_camera": [{"camera": s["camera"], "shift": plan[i].name, "frames": s["frames"],
                               "dropped": s["dropped"]} for i, s in enumerate(scored)]}
    return scored, summary
