"""The text files of a recorded shift (contract section 3): POS messages, per-tray truth, camera truth.

Truth is computed from the scenario alone, by plain multiset difference, so that it never
shares a bug with the pipeline it scores. Kept apart from the frame renderer: these files
need no pixels, and tests and tools read them without rendering.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from detectors.synth.camera import resolved_faults
from detectors.synth.scenario import LoadedScenario
from detectors.synth.scenario_schema import FAULT_CHECKS


def pos_events(loaded: LoadedScenario) -> list[dict]:
    """POS messages of the scenario, in stream-time order (orders sent 'never' are absent)."""
    events = []
    for tray in loaded.scenario.trays:
        if tray.order.sent == "never":
            continue
        t = max(0.0, round(tray.at + float(tray.order.sent), 3))
        order = {"id": tray.order.id, "items": [{"sku": line.sku, "qty": line.qty} for line in tray.order.items]}
        events.append({"t": t, "type": "order", "order": order})
    return sorted(events, key=lambda e: e["t"])


def _diff(expected: Counter[str], placed: Counter[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Missing and extra items by plain multiset difference (the pipeline's matcher is not used:
    truth must not share its bugs)."""
    return dict(sorted((expected - placed).items())), dict(sorted((placed - expected).items()))


def truth_records(loaded: LoadedScenario) -> list[dict]:
    """One truth line per tray (contract section 3)."""
    out = []
    for tray in loaded.scenario.trays:
        expected = loaded.expected(tray)
        placed = loaded.placed(tray)
        missing, extra = _diff(expected, placed)
        if tray.order.sent == "never":
            initial = "no_order"
        else:
            initial = "mismatch" if (missing or extra) else "ok"
        final = initial
        if tray.fix is not None and initial != "no_order":
            fixed = Counter({k: v for k, v in tray.fix.placed.items() if v > 0})
            final = "ok" if fixed == expected else "mismatch"
        out.append({
            "order_id": tray.order.id,
            "rest_t": round(tray.rest_t, 3),
            "leave_t": round(tray.leave_t, 3),
            "expected": dict(sorted(expected.items())),
            "placed": dict(sorted(placed.items())),
            "initial": initial,
            "missing": missing,
            "extra": extra,
            "final": final,
        })
    return out


def camera_truth_records(loaded: LoadedScenario) -> list[dict]:
    """One line per camera fault (extension ``camera_truth.jsonl``): its kind, the health check that
    must fire, its stream-time interval and its amount (the kind's default filled in)."""
    out = []
    for ev, fault in zip(loaded.scenario.camera_events, resolved_faults(loaded)):
        out.append({"kind": ev.kind, "check": FAULT_CHECKS[ev.kind], "start": round(ev.at, 3),
                    "end": round(ev.end, 3), "amount": round(fault.amount, 3)})
    return out


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
