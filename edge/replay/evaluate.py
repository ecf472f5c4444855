"""``traycheck eval``: score verdict records against a shift's truth.

Verdicts are matched to trays by tray identity: the pipeline's tray (the record's
``camera`` and ``tray``) is placed at its arrival in stream time (the record's
``rest_t``, or ``video_t`` for records without it) and belongs to the truth tray
whose window holds it. Tray i's window runs from its arrival (rest minus the
contract's 1.0 s slide) to the next tray's arrival, the last one's to its
departure plus 2 s: windows never overlap, so a stray verdict cannot be absorbed
by a neighbour. Per tray the first verdict is the initial one, the last the final.

A verdict is right when its kind, its missing/extra items (for a mismatch) and
its order id all equal the truth ("resolved" counts as a final "ok"; a
``no_order`` names no order): the right content on another order's tray is wrong.
Latency runs from the later of the tray coming to rest and its order reaching
the box, to the first verdict. Truth comes from ``edge.replay.truth``.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from edge.replay.runner import shift_menu
from edge.replay.truth import SLIDE_S, shift_truth, undecidable
from orders.menu import Menu

TAIL_S = 2.0  # the last tray's window ends this long after it has left
METHODS = {"qr": "ticket", "qr-unknown": "ticket", "fifo": "fifo", "none": "none"}


def _kind_right(v: dict, kind: str, missing: dict, extra: dict) -> bool:
    got = "ok" if v["verdict"] == "resolved" else v["verdict"]
    if got != kind:
        return False
    return kind != "mismatch" or (v.get("missing", {}) == missing and v.get("extra", {}) == extra)


def _order_right(v: dict, tr: dict) -> bool:
    return v.get("order_id") == (None if tr["initial"] == "no_order" else tr["order_id"])


def _windows(truth: list[dict]) -> list[tuple[float, float]]:
    starts = [tr["rest_t"] - SLIDE_S for tr in truth]
    ends = starts[1:] + ([truth[-1]["leave_t"] + SLIDE_S + TAIL_S] if truth else [])
    return list(zip(starts, ends))


def assign(truth: list[dict], verdicts: list[dict]) -> tuple[dict[int, list[dict]], int, int]:
    """Verdicts per truth tray (in stream-time order), verdicts outside every window, and how
    many pipeline trays shared a window with another (one tray seen as two)."""
    groups: dict[object, list[dict]] = defaultdict(list)
    for n, v in enumerate(sorted(verdicts, key=lambda r: r["video_t"])):
        key = (v.get("camera"), v["tray"]) if v.get("tray") is not None else n
        groups[key].append(v)
    windows = _windows(truth)
    by_tray: dict[int, list[dict]] = defaultdict(list)
    seen_groups: dict[int, int] = defaultdict(int)
    stray = 0
    for vs in groups.values():
        arrival = min(v["rest_t"] if v.get("rest_t") is not None else v["video_t"] for v in vs)
        idx = next((i for i, (a, b) in enumerate(windows) if a <= arrival < b), None)
        if idx is None:
            stray += len(vs)
            continue
        by_tray[idx].extend(vs)
        seen_groups[idx] += 1
    for vs in by_tray.values():
        vs.sort(key=lambda r: r["video_t"])
    return by_tray, stray, sum(n - 1 for n in seen_groups.values())


def score_shift(folder: Path, verdicts: list[dict], menu: Menu | None = None) -> dict:
    """Per-tray rows of one shift (see the module docstring)."""
    truth, notes = shift_truth(folder, menu or shift_menu(folder))
    hard = undecidable(truth)
    by_tray, stray, split = assign(truth, verdicts)
    rows = []
    for i, tr in enumerate(truth):
        vs = by_tray.get(i, [])
        first, last = (vs[0], vs[-1]) if vs else (None, None)
        # truth gives missing/extra at rest only: a final mismatch is scored on kind and those items
        fm, fe = (tr["missing"], tr["extra"]) if tr["final"] == "mismatch" else ({}, {})
        content = first is not None and _kind_right(first, tr["initial"], tr["missing"], tr["extra"])
        order = first is not None and _order_right(first, tr)
        row = {
            "order_id": tr["order_id"], "truth_initial": tr["initial"], "truth_final": tr["final"],
            "initial": first["verdict"] if first else None, "final": last["verdict"] if last else None,
            "got_order": first.get("order_id") if first else None,
            "association": METHODS.get(first.get("association", ""), "none") if first else "missed",
            "content_right": content, "order_right": order,
            "initial_right": content and order,
            "final_right": last is not None and _kind_right(last, tr["final"], fm, fe) and _order_right(last, tr),
            "false_alert": tr["initial"] == "ok" and any(v["verdict"] == "mismatch" for v in vs),
            "latency": None, "rest_t": tr["rest_t"],
        }
        if i in hard:
            row["undecidable"] = hard[i]
        if first is not None and tr["initial"] != "no_order":
            ready = max(tr["rest_t"], tr["sent_t"] if tr["sent_t"] is not None else 0.0)
            row["latency"] = round(first["video_t"] - ready, 3)
        if first is not None and "seen" in first:
            row["count_errors"] = {c: abs(first["seen"].get(c, 0) - tr["placed"].get(c, 0))
                                   for c in set(first["seen"]) | set(tr["placed"])}
        rows.append(row)
    return {"shift": folder.name, "trays": rows, "stray_verdicts": stray, "split_trays": split,
            "truth_notes": notes}


def _pct(a: int, b: int) -> float | None:
    return round(100.0 * a / b, 2) if b else None


def _method_rows(rows: list[dict]) -> dict:
    out = {}
    for method in ("ticket", "fifo", "none", "missed"):
        rs = [r for r in rows if r["association"] == method]
        if rs:
            out[method] = {"trays": len(rs), "initial_accuracy": _pct(sum(r["initial_right"] for r in rs), len(rs)),
                           "order_matched": _pct(sum(r["order_right"] for r in rs), len(rs))}
    return out


def summarize(shifts: list[dict]) -> dict:
    rows = [r for s in shifts for r in s["trays"]]
    n = len(rows)
    mism = [r for r in rows if r["truth_initial"] == "mismatch"]
    oks = [r for r in rows if r["truth_initial"] == "ok"]
    lat = np.array([r["latency"] for r in rows if r["latency"] is not None], float)
    class_err: dict[str, int] = defaultdict(int)
    for r in rows:
        for c, e in r.get("count_errors", {}).items():
            class_err[c] += e
    hard = [r for r in rows if "undecidable" in r]
    return {
        "shifts": [s["shift"] for s in shifts],
        "trays": n,
        "initial_accuracy": _pct(sum(r["initial_right"] for r in rows), n),
        "final_accuracy": _pct(sum(r["final_right"] for r in rows), n),
        "order_matched": _pct(sum(r["order_right"] for r in rows), n),
        "content_only_accuracy": _pct(sum(r["content_right"] for r in rows), n),
        "mismatch_recall": _pct(sum(r["initial"] == "mismatch" for r in mism), len(mism)),
        "false_alert_rate": _pct(sum(r["false_alert"] for r in oks), len(oks)),
        "missed_trays": sum(r["initial"] is None for r in rows),
        "stray_verdicts": sum(s["stray_verdicts"] for s in shifts),
        "split_trays": sum(s.get("split_trays", 0) for s in shifts),
        "latency_p50_s": round(float(np.percentile(lat, 50)), 3) if len(lat) else None,
        "latency_p95_s": round(float(np.percentile(lat, 95)), 3) if len(lat) else None,
        "by_association": _method_rows(rows),
        "undecidable_trays": len(hard),
        "undecidable_right": sum(r["initial_right"] for r in hard),
        "count_errors": dict(sorted(class_err.items())),
        "truth_notes": [x for s in shifts for x in s.get("truth_notes", [])],
    }
