"""What each tray of a shift should get, computed from its scenario for ``traycheck eval``.

Deliberately simple and independent of the pipeline: no import from
``orders.matching`` (a bug there must not hide in the truth). Expected items
are the menu's classes times the quantities, missing/extra are plain per-class
differences. The renderer's ``truth.jsonl`` is checked against it; a shift
without a renderable scenario (``synth stills``) is scored on its truth.jsonl.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from edge.sources.shift_files import read_jsonl
from orders.menu import Menu

SLIDE_S = 1.0  # contract section 1: a tray slides in (and out) over exactly one second
DEFAULT_SENT_S = -2.0  # the scenario's default for `sent`


def diff(expected: dict[str, int], placed: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(missing, extra): per class, how many more were expected than placed, and the reverse."""
    missing: dict[str, int] = {}
    extra: dict[str, int] = {}
    for cls in sorted(set(expected) | set(placed)):
        want, got = expected.get(cls, 0), placed.get(cls, 0)
        if want > got:
            missing[cls] = want - got
        elif got > want:
            extra[cls] = got - want
    return missing, extra


def _expected(items: list[dict], menu: Menu) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in items:
        for cls in menu.skus[line["sku"]]:
            out[cls] = out.get(cls, 0) + int(line.get("qty", 1))
    return dict(sorted(out.items()))


def _positive(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted((k, int(v)) for k, v in counts.items() if v > 0))


def scenario_truth(doc: dict, menu: Menu) -> list[dict]:
    """One row per tray, the keys of a truth.jsonl line plus ``at``, ``sent_t`` (stream time the
    POS sends the order; None: never) and ``ticket``."""
    rows = []
    for tray in doc["trays"]:
        at, dwell, order = float(tray["at"]), float(tray["dwell"]), tray["order"]
        expected = _expected(order["items"], menu)
        placed = _positive(tray["placed"]) if tray.get("placed") is not None else dict(expected)
        sent = order.get("sent", DEFAULT_SENT_S)
        missing, extra = diff(expected, placed)
        if sent == "never":
            initial = final = "no_order"
        else:
            initial = "mismatch" if missing or extra else "ok"
            final = initial
            if tray.get("fix") is not None:
                final = "ok" if _positive(tray["fix"]["placed"]) == expected else "mismatch"
        rows.append({
            "order_id": str(order["id"]), "rest_t": round(at + SLIDE_S, 3), "leave_t": round(at + SLIDE_S + dwell, 3),
            "expected": expected, "placed": placed, "initial": initial, "missing": missing, "extra": extra,
            "final": final, "at": at, "sent_t": None if sent == "never" else max(0.0, round(at + float(sent), 3)),
            "ticket": tray.get("ticket", "qr"),
        })
    return rows


def shift_truth(folder: Path, menu: Menu) -> tuple[list[dict], list[str]]:
    """The truth of a shift folder and notes: where truth.jsonl disagrees with the scenario."""
    file_truth = read_jsonl(folder / "truth.jsonl")
    sc = folder / "scenario.yaml"
    doc = yaml.safe_load(sc.read_text()) if sc.is_file() else None
    if not isinstance(doc, dict) or not isinstance(doc.get("trays"), list):
        for row in file_truth:  # not renderable (synth stills): truth.jsonl is all there is
            row.setdefault("at", row["rest_t"] - SLIDE_S)
            row.setdefault("sent_t", None)
            row.setdefault("ticket", None)
        return file_truth, []
    truth = scenario_truth(doc, menu)
    keys = ("order_id", "initial", "final", "missing", "extra", "placed", "expected")
    notes = []
    if len(truth) != len(file_truth):
        notes.append(f"{folder.name}: truth.jsonl has {len(file_truth)} trays, the scenario {len(truth)}")
    for a, b in zip(truth, file_truth):
        if any(a[k] != b.get(k) for k in keys):
            notes.append(f"{folder.name}: truth.jsonl disagrees with the scenario on order {a['order_id']}")
    return truth, notes


def undecidable(truth: list[dict]) -> dict[int, str]:
    """Trays no product can get right from what the box is given, by index, with the reason.

    Without a readable ticket, a tray is told from other trays by its content only:
    an order the POS never sent whose tray shows exactly a pending order's items, or
    an order with an identical older order pending (the nearest plausible order is the older one on a tie)."""
    out: dict[int, str] = {}
    for i, tr in enumerate(truth):
        if tr["ticket"] in ("qr", None):
            continue
        pending = [(j, o) for j, o in enumerate(truth) if j > i and o["sent_t"] is not None
                   and o["sent_t"] <= tr["rest_t"] + SLIDE_S]
        if tr["sent_t"] is None:
            same = [o for _, o in pending if o["expected"] == tr["placed"]]
            if same:
                out[i] = (f"never sent, no readable ticket, shows exactly pending order {same[0]['order_id']}")
        else:
            older = [o for _, o in pending if o["expected"] == tr["expected"] and o["sent_t"] < tr["sent_t"]]
            if older:
                out[i] = (f"no readable ticket, identical order {older[0]['order_id']} pending and older "
                          "(ties go to the older)")
    return out
