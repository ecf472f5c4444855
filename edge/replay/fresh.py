"""Shifts nobody tuned for, and how stable a figure is: ``eval --fresh`` and ``eval --repeats``.

``--fresh N`` writes N scenarios per kind from seeds drawn from one master seed
(printed; ``--seed`` gives it back), renders and scores them. ``--repeats K``
renders a shift's scenario again with K other draws of the camera noise (same
trays, same orders; the encode itself is byte-reproducible) and reports the
spread of each figure over the draws.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import numpy as np

from detectors.synth.generate import KINDS, random_scenario, scenario_yaml
from detectors.synth.scenario import load_scenario
from detectors.synth.shift import render_shift
from edge.errors import InvalidInput

SPREAD_KEYS = ("initial_accuracy", "final_accuracy", "order_matched", "mismatch_recall", "false_alert_rate",
               "latency_p95_s")


def fresh_seeds(kinds: list[str], n: int, seed: int | None) -> tuple[int, list[tuple[str, int]]]:
    """The master seed (drawn when not given) and the (kind, scenario seed) pairs it gives."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InvalidInput(f"--kinds {','.join(unknown)}: unknown (known: {', '.join(KINDS)})")
    master = seed if seed is not None else secrets.randbelow(2**31)
    rng = np.random.default_rng(master)
    return master, [(kind, int(rng.integers(1_000, 2**31))) for kind in kinds for _ in range(n)]


def render_fresh_one(kind: str, seed: int, out: Path, say: Callable[[str], None]) -> Path:
    """Write the scenario of (kind, seed) into ``out`` and render it there; the shift folder."""
    path = out / f"{kind}-{seed}.yaml"
    path.write_text(scenario_yaml(random_scenario(kind, seed)))
    say(f"rendering {path.name}")
    return render_shift(load_scenario(path), out / f"{kind}-{seed}")


def check_renderable(folder: Path) -> None:
    """--repeats re-renders the shift's scenario: refuse a shift that has none (synth stills)."""
    import yaml

    sc = folder / "scenario.yaml"
    doc = yaml.safe_load(sc.read_text()) if sc.is_file() else None
    if not isinstance(doc, dict) or not isinstance(doc.get("trays"), list):
        raise InvalidInput(f"{folder}: --repeats needs a renderable scenario.yaml (this shift was not rendered "
                        "from one)")


def spread(reports: list[dict]) -> dict:
    """min / mean / max of the headline figures over several draws."""
    out = {}
    for key in SPREAD_KEYS:
        vals = [r[key] for r in reports if r.get(key) is not None]
        if vals:
            out[key] = {"min": min(vals), "mean": round(float(np.mean(vals)), 3), "max": max(vals)}
    return out
