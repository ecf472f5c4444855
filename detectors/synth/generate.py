"""Random but realistic scenario files (``traycheck synth scenario``).

The bundled fixtures were written by this generator, and QA can draw fresh
shifts "of the same kind" with a new seed. Each kind fixes the camera and the
mix of difficulties; the seed picks orders, mistakes, fixes, tickets and timing.
"""
from __future__ import annotations

import zlib
from collections import Counter

import numpy as np
import yaml

from orders.menu import DEFAULT_MENU, Menu

KINDS: dict[str, dict] = {
    "lunch-rush": {"camera": {}, "duration": 150.0, "dwell": (3.0, 5.0), "gap": (0.3, 1.2)},
    "dim-evening": {"camera": {"noise": 0.04, "brightness": 0.6, "flicker": 0.12, "jpeg_quality": 45},
                    "duration": 110.0, "dwell": (3.0, 5.5), "gap": (0.5, 2.0)},
    "blurry-breakfast": {"camera": {"noise": 0.02, "blur": 2, "brightness": 1.3, "jpeg_quality": 60},
                         "duration": 110.0, "dwell": (3.0, 5.5), "gap": (0.5, 2.0)},
}
SWAPS = {"burger": "cheeseburger", "cheeseburger": "burger", "chicken_sandwich": "wrap", "wrap": "chicken_sandwich"}
COMBOS = [  # typical orders: (sku, qty) lines
    [("BURGER_MEAL", 1)], [("CHEESEBURGER_MEAL", 1), ("SAUCE_BBQ", 1)], [("CHICKEN_MEAL", 1)],
    [("NUGGET_MEAL", 1), ("KETCHUP", 2)], [("WRAP", 1), ("DRINK", 1)], [("SALAD", 1), ("DRINK", 1)],
    [("BURGER", 2), ("FRIES", 1)], [("CHEESEBURGER", 1), ("FRIES", 1), ("SUNDAE", 1)],
    [("CHICKEN_SANDWICH", 1), ("SALAD", 1)], [("NUGGETS", 1), ("SAUCE_MAYO", 2), ("DRINK", 1)],
    [("WRAP", 2), ("SAUCE_BBQ", 1)], [("BURGER_MEAL", 1), ("SUNDAE", 1)],
    [("CHEESEBURGER", 1), ("CHICKEN_SANDWICH", 1)],
]


def _mistake(rng: np.random.Generator, placed: Counter[str]) -> Counter[str]:
    """One realistic error: a missing item, a wrong (confusable) item, an extra item, or a short quantity."""
    out = Counter(placed)
    kinds = ["missing", "extra"]
    if any(c in SWAPS for c in out):
        kinds += ["wrong", "wrong"]
    kind = kinds[int(rng.integers(0, len(kinds)))]
    if kind == "missing" and sum(out.values()) > 1:
        cls = sorted(out)[int(rng.integers(0, len(out)))]
        out[cls] -= 1
    elif kind == "wrong":
        cls = sorted(c for c in out if c in SWAPS)[0]
        out[cls] -= 1
        out[SWAPS[cls]] += 1
    elif sum(out.values()) < 8:
        out[["sauce", "dessert", "fries", "drink"][int(rng.integers(0, 4))]] += 1
    else:
        cls = sorted(out)[0]
        out[cls] -= 1
    return +out


def random_scenario(kind: str, seed: int, name: str | None = None, mistake_rate: float = 0.3) -> dict:
    """A scenario dict (contract section 1) of the given kind."""
    spec = KINDS[kind]
    rng = np.random.default_rng([seed, zlib.crc32(kind.encode())])
    menu = Menu(DEFAULT_MENU)
    trays: list[dict] = []
    t = 1.0
    order_no = int(rng.integers(100, 900)) * 10
    never_at = int(rng.integers(3, 8))
    while True:
        dwell = round(float(rng.uniform(*spec["dwell"])), 1)
        if t + 2.0 + dwell + 1.0 > spec["duration"]:
            break
        order_no += int(rng.integers(1, 4))
        lines = COMBOS[int(rng.integers(0, len(COMBOS)))]
        expected = menu.expected(lines)
        tray: dict = {"at": round(t, 1), "dwell": dwell,
                      "order": {"id": str(order_no), "items": [{"sku": s, "qty": q} for s, q in lines]}}
        sent = float(rng.choice([-20.0, -8.0, -3.0, -1.0, 0.5, 2.0], p=[0.25, 0.3, 0.25, 0.1, 0.05, 0.05]))
        tray["order"]["sent"] = "never" if len(trays) == never_at else sent
        if rng.random() < mistake_rate:
            placed = _mistake(rng, expected)
            tray["placed"] = dict(sorted(placed.items()))
            if rng.random() < 0.4 and dwell >= 3.5:
                tray["fix"] = {"at": round(float(rng.uniform(1.2, dwell - 1.5)), 1),
                               "placed": dict(sorted(expected.items()))}
        tray["ticket"] = str(rng.choice(["qr", "none", "damaged"], p=[0.74, 0.13, 0.13]))
        if tray["order"]["sent"] == "never":
            # Its ticket is the only evidence that the POS never sent it: without one, a tray whose
            # content fits a pending order is that order's by FIFO, indistinguishably.
            tray["ticket"] = "qr"
        tray["hands"] = int(rng.choice([0, 1, 2], p=[0.5, 0.35, 0.15]))
        tray["clutter"] = int(rng.choice([0, 1, 2, 3], p=[0.45, 0.3, 0.15, 0.1]))
        trays.append(tray)
        t += 1.0 + dwell + 1.0 + float(rng.uniform(*spec["gap"]))
    doc = {"name": name or f"{kind}-{seed}", "seed": seed}
    if spec["camera"]:
        doc["camera"] = dict(spec["camera"])
    doc["trays"] = trays
    return doc


def scenario_yaml(doc: dict) -> str:
    """YAML with one flow-style mapping per order line: easy to read and edit."""

    class _Dumper(yaml.SafeDumper):
        pass

    def _repr_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
        flow = all(not isinstance(v, (dict, list)) for v in data.values()) and len(data) <= 10 and "at" not in data
        return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)

    _Dumper.add_representer(dict, _repr_dict)
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=120)
