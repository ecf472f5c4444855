"""Shifts nobody tuned for, and how stable a figure is: ``eval --fresh`` and ``eval --repeats``.

``--fresh N`` writes N scenarios per kind from seeds drawn from one master seed
(printed; ``--seed`` gives it back), renders and scores them. ``--repeats K``
renders a shift's scenario again with K other draws of the camera noise (same
trays, same orders; the encode itself is byte-reproducible) and reports the
spread of each figure over the draws.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from edge.errors import UserError

SPREAD_KEYS = ("initial_accuracy", "final_accuracy", "order_matched", "mismatch_recall", "false_alert_rate",
               "latency_p95_s")


def fresh_seeds(kinds: list[str], n: int, seed: int | None) -> tuple[int, list[tuple[str, int]]]:
    """The master seed (drawn when not given) and the (kind, scenario seed) pairs it gives."""
    from detectors.synth.generate import KINDS

    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UserError(f"--kinds {','.join(unknown)}: unknown (known: {', '.join(KINDS)})")
    master = seed if seed is not None else secrets.randbelow(2**31)
    rng = np.random.default_rng(master)
    return master, [(kind, int(rng.integers(1_000, 2**31))) for kind in kinds for _ in range(n)]


def render_fresh(pairs: list[tuple[str, int]], out: Path, say: Callable[[str], None]) -> Iterator[Path]:
    """Write and render each scenario into ``out``; yields the shift folders one by one."""
    from detectors.synth.generate import random_scenario, scenario_yaml
    from detectors.synth.scenario import load_scenario
    from detectors.synth.shift import render_shift

    out.mkdir(parents=True, exist_ok=True)
    for kind, seed in pairs:
        path = out / f"{kind}-{seed}.yaml"
        path.write_text(scenario_yaml(random_scenario(kind, seed)))
        say(f"rendering {path.name}")
        yield render_shift(load_scenario(path), out / f"{kind}-{seed}")


def render_draws(folder: Path, repeats: int, out: Path, say: Callable[[str], None]) -> Iterator[tuple[int, Path]]:
    """The shift's scenario rendered with noise draws 1..repeats (the folder keeps draw 0)."""
    import yaml

    from detectors.synth.scenario import load_scenario
    from detectors.synth.shift import render_shift

    sc = folder / "scenario.yaml"
    doc = yaml.safe_load(sc.read_text()) if sc.is_file() else None
    if not isinstance(doc, dict) or not isinstance(doc.get("trays"), list):
        raise UserError(f"{folder}: --repeats needs a renderable scenario.yaml (this shift was not rendered "
                        "from one)")
    loaded = load_scenario(sc)
    for k in range(1, repeats + 1):
        say(f"rendering {folder.name} with noise draw {k}")
        yield k, render_shift(loaded, out / f"{folder.name}-draw{k}", draw=k)


def spread(reports: list[dict]) -> dict:
    """min / mean / max of the headline figures over several draws."""
    out = {}
    for key in SPREAD_KEYS:
        vals = [r[key] for r in reports if r.get(key) is not None]
        if vals:
            out[key] = {"min": min(vals), "mean": round(float(np.mean(vals)), 3), "max": max(vals)}
    return out
