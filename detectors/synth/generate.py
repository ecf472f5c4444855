"""Random but realistic scenario files (``traycheck synth scenario``).

The bundled fixtures were written by this generator, and QA can draw fresh
shifts "of the same kind" with a new seed. Each kind fixes the camera and the
mix of difficulties; the seed picks orders, mistakes, fixes, tickets and timing.

Knobs (a kind's keys; the first three kinds keep their defaults, so their seeds
still give the bundled fixtures): ``mistakes`` (fewest, most errors on a wrong
tray), ``any_class`` (errors with any class, not only the look-alike pairs),
``never_ticket_any`` (a never-sent order's ticket is drawn like any other: none or
damaged too), ``never_rate`` (share of further never-sent orders), ``late_max``
(POS messages up to this many seconds after the tray arrives), ``repeat`` (share
of orders identical to the previous one), ``short_dwell`` (share of 2.5 s dwells).
"""
from __future__ import annotations

import math
import zlib
from collections import Counter

import numpy as np
import yaml

from detectors.classes import CLASSES
from detectors.synth.scenario_schema import MAX_ITEMS_PER_TRAY
from orders.menu import DEFAULT_MENU, Menu

KINDS: dict[str, dict] = {
    "lunch-rush": {"camera": {}, "duration": 150.0, "dwell": (3.0, 5.0), "gap": (0.3, 1.2)},
    "dim-evening": {"camera": {"noise": 0.04, "brightness": 0.6, "flicker": 0.12, "jpeg_quality": 45},
                    "duration": 110.0, "dwell": (3.0, 5.5), "gap": (0.5, 2.0)},
    "blurry-breakfast": {"camera": {"noise": 0.02, "blur": 2, "brightness": 1.3, "jpeg_quality": 60},
                         "duration": 110.0, "dwell": (3.0, 5.5), "gap": (0.5, 2.0)},
    # Everything at once: compound mistakes of any class, ticketless never-sent orders, POS up to
    # 4 s late, identical orders back to back, short dwells, and the next tray at rest 2 s after
    # the previous one starts to leave (1 s slide out, 0-1 s gap, 1 s slide in).
    "rush-hard": {"camera": {"noise": 0.02, "brightness": 0.85, "flicker": 0.05, "jpeg_quality": 60},
                  "duration": 320.0, "dwell": (2.5, 5.0), "gap": (0.0, 1.0), "mistakes": (1, 3),
                  "any_class": True, "never_ticket_any": True, "never_rate": 0.05, "late_max": 4.0,
                  "repeat": 0.2, "short_dwell": 0.3},
    # Each camera fault once (random order, times and amounts), between normal trays; a noisy,
    # slightly flickering camera so that no idle stretch but a freeze repeats a frame (see
    # _camera_faults). Its trays are ordinary ones, scored as usual.
    "camera-trouble": {"camera": {"noise": 0.03, "flicker": 0.04}, "duration": 0.0, "dwell": (2.5, 3.5),
                       "gap": (0.5, 2.0), "faults": True},
}
FAULT_FIRST_S = 20.0  # the health checks learn their reference from the first seconds of idle stream
FAULT_APART_S = 20.0  # from one fault's end to the next one's start (normal trays in between)
FAULT_LONG_S = (20.0, 40.0)
FAULT_MARGIN_S = 3.0  # no tray within this long of a fault (faults fall between trays)
FAULT_AMOUNTS = {"cover": (0.75, 0.95), "dark": (0.06, 0.2), "blur": (0.6, 1.0), "move": (0.07, 0.12),
                 "freeze": None}  # move: a fraction of the width (640 px)
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


def _any_mistake(rng: np.random.Generator, placed: Counter[str]) -> Counter[str]:
    """One error of any class: an item left out, one added, or one replaced by any other item."""
    out = Counter(placed)
    kind = ["missing", "extra", "wrong"][int(rng.integers(0, 3))]
    if kind != "extra" and sum(out.values()) > 1:
        cls = sorted(out)[int(rng.integers(0, len(out)))]
        out[cls] -= 1
        if kind == "wrong":
            out[[c for c in CLASSES if c != cls][int(rng.integers(0, len(CLASSES) - 1))]] += 1
    elif sum(out.values()) < MAX_ITEMS_PER_TRAY:
        out[CLASSES[int(rng.integers(0, len(CLASSES)))]] += 1
    return +out


def _mistakes(rng: np.random.Generator, expected: Counter[str], spec: dict) -> Counter[str]:
    """The tray as served: one mistake (the default), or 1..N compound mistakes of any class."""
    if "mistakes" not in spec:
        return _mistake(rng, expected)
    lo, hi = spec["mistakes"]
    placed = Counter(expected)
    while placed == expected:  # compound errors may cancel (a drink out, a drink in): draw again
        placed = Counter(expected)
        for _ in range(int(rng.integers(lo, hi + 1))):
            placed = _any_mistake(rng, placed) if spec.get("any_class") else _mistake(rng, placed)
    return placed


def _sent(rng: np.random.Generator, spec: dict, dwell: float) -> float:
    """When the POS sends the order, relative to the tray's arrival. A late order still reaches the
    box at least 0.5 s before the tray starts to leave (one that comes later cannot be checked)."""
    late_max = spec.get("late_max")
    if late_max is None:
        return float(rng.choice([-20.0, -8.0, -3.0, -1.0, 0.5, 2.0], p=[0.25, 0.3, 0.25, 0.1, 0.05, 0.05]))
    early = float(rng.choice([-20.0, -8.0, -3.0, -1.0], p=[0.25, 0.35, 0.25, 0.15]))
    if rng.random() < 0.7:
        return early
    return round(float(rng.uniform(0.1, min(late_max, 1.0 + dwell - 0.5))), 1)


def random_scenario(kind: str, seed: int, name: str | None = None, mistake_rate: float = 0.3,
                    duration: float | None = None) -> dict:
    """A scenario dict (contract section 1) of the given kind (``duration``: a shorter or longer shift;
    for a kind with faults, at least that long)."""
    if KINDS[kind].get("faults"):
        return _fault_scenario(kind, seed, name, mistake_rate, duration)
    return _tray_scenario(kind, seed, name, mistake_rate, duration)


def _tray_scenario(kind: str, seed: int, name: str | None, mistake_rate: float, duration: float | None) -> dict:
    """Trays of the kind's timing and mistakes from 1.0 s until ``duration`` (or the kind's)."""
    spec = KINDS[kind] | ({"duration": duration} if duration else {})
    rng = np.random.default_rng([seed, zlib.crc32(kind.encode())])
    menu = Menu(DEFAULT_MENU)
    trays: list[dict] = []
    t = 1.0
    order_no = int(rng.integers(100, 900)) * 10
    never_at = int(rng.integers(3, 8))
    while True:
        dwell = round(float(rng.uniform(*spec["dwell"])), 1)
        if spec.get("short_dwell") and rng.random() < spec["short_dwell"]:
            dwell = 2.5
        if t + 2.0 + dwell + 1.0 > spec["duration"]:
            break
        order_no += int(rng.integers(1, 4))
        lines = COMBOS[int(rng.integers(0, len(COMBOS)))]
        if trays and spec.get("repeat") and rng.random() < spec["repeat"]:
            lines = [(it["sku"], it["qty"]) for it in trays[-1]["order"]["items"]]  # the same order again
        trays.append(_tray(rng, spec, menu, round(t, 1), dwell, str(order_no), lines, len(trays) == never_at,
                           mistake_rate))
        t += 1.0 + dwell + 1.0 + float(rng.uniform(*spec["gap"]))
        if spec["gap"][0] < 0.1:  # "at" is written with one decimal: never before the last tray is gone
            t = math.ceil(t * 10 - 1e-6) / 10
    doc = {"name": name or f"{kind}-{seed}", "seed": seed}
    if spec["camera"]:
        doc["camera"] = dict(spec["camera"])
    doc["trays"] = trays
    return doc


def _tray(rng: np.random.Generator, spec: dict, menu: Menu, at: float, dwell: float, order_id: str,
          lines: list[tuple[str, int]], never_sent: bool, mistake_rate: float) -> dict:
    """One tray of the scenario: its order and when the POS sends it, what is really served (a mistake,
    maybe fixed while it rests), its ticket, hands and clutter. Draws from ``rng`` in that order."""
    expected = menu.expected(lines)
    tray: dict = {"at": at, "dwell": dwell,
                  "order": {"id": order_id, "items": [{"sku": s, "qty": q} for s, q in lines]}}
    sent = _sent(rng, spec, dwell)
    never = never_sent or bool(spec.get("never_rate") and rng.random() < spec["never_rate"])
    tray["order"]["sent"] = "never" if never else sent
    if rng.random() < mistake_rate:
        placed = _mistakes(rng, expected, spec)
        tray["placed"] = dict(sorted(placed.items()))
        if rng.random() < 0.4 and dwell >= 3.5:
            tray["fix"] = {"at": round(float(rng.uniform(1.2, dwell - 1.5)), 1),
                           "placed": dict(sorted(expected.items()))}
    tray["ticket"] = str(rng.choice(["qr", "none", "damaged"], p=[0.74, 0.13, 0.13]))
    if tray["order"]["sent"] == "never" and not spec.get("never_ticket_any"):
        # Its ticket is the only evidence that the POS never sent it: without one, a tray whose
        # content fits a pending order gets that order as its nearest plausible one, indistinguishably
        # (rush-hard has them).
        tray["ticket"] = "qr"
    tray["hands"] = int(rng.choice([0, 1, 2], p=[0.5, 0.35, 0.15]))
    tray["clutter"] = int(rng.choice([0, 1, 2, 3], p=[0.45, 0.3, 0.15, 0.1]))
    return tray


def _camera_faults(rng: np.random.Generator, duration: float | None) -> tuple[list[dict], list[tuple[float, float]]]:
    """The five faults in a random order: the first at >= 20 s, each 20-40 s long, >= 20 s apart;
    returned with the stretches (start, end) where trays may come. ``duration`` stretches the tail."""
    kinds = [str(k) for k in rng.permutation(list(FAULT_AMOUNTS))]
    events, free = [], []
    t = 6.0  # 5 s of empty counter first: the checks' reference view
    start = FAULT_FIRST_S + round(float(rng.uniform(0.0, 4.0)), 1)
    for kind in kinds:
        free.append((t, start - FAULT_MARGIN_S))
        long = round(float(rng.uniform(*FAULT_LONG_S)), 1)
        ev: dict = {"at": start, "kind": kind, "duration": long}
        span = FAULT_AMOUNTS[kind]
        if span is not None:
            amount = float(rng.uniform(*span))
            ev["amount"] = round(amount * 640, 1) if kind == "move" else round(amount, 2)
        events.append(ev)
        t = round(start + long + FAULT_MARGIN_S, 1)
        start = round(start + long + FAULT_APART_S + float(rng.uniform(0.0, 6.0)), 1)
    free.append((t, max(t + 15.0, duration or 0.0)))
    return events, free


def _fault_scenario(kind: str, seed: int, name: str | None, mistake_rate: float, duration: float | None) -> dict:
    """A scenario of a kind with camera faults: trays of the kind's timing only in the stretches
    between faults (a fault while a tray is checked is out of scope of the health truth)."""
    spec = KINDS[kind]
    rng = np.random.default_rng([seed, zlib.crc32(kind.encode())])
    events, free = _camera_faults(rng, duration)
    trays: list[dict] = []
    for lo, hi in free:
        sub = _tray_scenario(kind, int(rng.integers(0, 2**31)), None, mistake_rate, hi - lo)
        for tray in sub["trays"]:
            tray["at"] = round(tray["at"] - 1.0 + lo, 1)
            trays.append(tray)
    order_ids = set()
    for tray in trays:  # stretches draw their order numbers apart: make them unique
        while tray["order"]["id"] in order_ids:
            tray["order"]["id"] = str(int(tray["order"]["id"]) + 1000)
        order_ids.add(tray["order"]["id"])
    doc = {"name": name or f"{kind}-{seed}", "seed": seed, "camera": dict(spec["camera"]), "trays": trays,
           "camera_events": events}
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
