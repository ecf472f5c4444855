"""``traycheck eval``: score verdict records against a shift's truth.jsonl.

Each verdict belongs to the truth tray whose stay (arrival to departure, with
a second of slack) contains its stream time. Per tray, the first verdict is
the initial one and the last the final one; a verdict is right when its kind
and its missing/extra items equal the truth ("resolved" counts as a final
"ok"). Latency runs from the later of the tray coming to rest and its order
reaching the box, to the first verdict.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from edge.pipeline.verdicts import VerdictKind
from edge.sources.shift_files import read_jsonl, read_pos

SLACK_S = 1.0


def _right(v: dict, kind: str, missing: dict, extra: dict) -> bool:
    """Kinds are compared as their contract strings: records and truth files hold plain strings."""
    got = VerdictKind.OK if v["verdict"] == VerdictKind.RESOLVED else v["verdict"]
    if got != kind:
        return False
    return kind != VerdictKind.MISMATCH or (v.get("missing", {}) == missing and v.get("extra", {}) == extra)


def score_shift(folder: Path, verdicts: list[dict]) -> dict:
    truth = read_jsonl(folder / "truth.jsonl")
    sent = {e.order.id: e.t for e in read_pos(folder / "pos.jsonl")}
    by_tray: dict[int, list[dict]] = defaultdict(list)
    stray = 0
    for v in sorted(verdicts, key=lambda r: r["video_t"]):
        idx = next((i for i, tr in enumerate(truth)
                    if tr["rest_t"] - 1.0 - SLACK_S <= v["video_t"] <= tr["leave_t"] + 1.0 + SLACK_S), None)
        if idx is None:
            stray += 1
        else:
            by_tray[idx].append(v)
    rows = []
    for i, tr in enumerate(truth):
        vs = by_tray.get(i, [])
        first, last = (vs[0], vs[-1]) if vs else (None, None)
        # truth gives missing/extra at rest only: a final mismatch is scored on kind and those items
        fm, fe = (tr["missing"], tr["extra"]) if tr["final"] == VerdictKind.MISMATCH else ({}, {})
        row = {
            "order_id": tr["order_id"], "truth_initial": tr["initial"], "truth_final": tr["final"],
            "initial": first["verdict"] if first else None, "final": last["verdict"] if last else None,
            "initial_right": first is not None and _right(first, tr["initial"], tr["missing"], tr["extra"]),
            "final_right": last is not None and _right(last, tr["final"], fm, fe),
            "false_alert": tr["initial"] == VerdictKind.OK and any(v["verdict"] == VerdictKind.MISMATCH for v in vs),
            "latency": None,
        }
        if first is not None and tr["initial"] != VerdictKind.NO_ORDER:
            ready = max(tr["rest_t"], sent.get(tr["order_id"], 0.0))
            row["latency"] = round(first["video_t"] - ready, 3)
        if first is not None and "seen" in first:
            row["count_errors"] = {c: abs(first["seen"].get(c, 0) - tr["placed"].get(c, 0))
                                   for c in set(first["seen"]) | set(tr["placed"])}
        rows.append(row)
    return {"shift": folder.name, "trays": rows, "stray_verdicts": stray}


def summarize(shifts: list[dict]) -> dict:
    rows = [r for s in shifts for r in s["trays"]]
    n = len(rows)
    mism = [r for r in rows if r["truth_initial"] == VerdictKind.MISMATCH]
    oks = [r for r in rows if r["truth_initial"] == VerdictKind.OK]
    lat = np.array([r["latency"] for r in rows if r["latency"] is not None], float)
    class_err: dict[str, int] = defaultdict(int)
    for r in rows:
        for c, e in r.get("count_errors", {}).items():
            class_err[c] += e
    pct = lambda a, b: round(100.0 * a / b, 2) if b else None  # noqa: E731
    return {
        "shifts": [s["shift"] for s in shifts],
        "trays": n,
        "initial_accuracy": pct(sum(r["initial_right"] for r in rows), n),
        "final_accuracy": pct(sum(r["final_right"] for r in rows), n),
        "mismatch_recall": pct(sum(r["initial"] == VerdictKind.MISMATCH for r in mism), len(mism)),
        "false_alert_rate": pct(sum(r["false_alert"] for r in oks), len(oks)),
        "missed_trays": sum(r["initial"] is None for r in rows),
        "stray_verdicts": sum(s["stray_verdicts"] for s in shifts),
        "latency_p50_s": round(float(np.percentile(lat, 50)), 3) if len(lat) else None,
        "latency_p95_s": round(float(np.percentile(lat, 95)), 3) if len(lat) else None,
        "count_errors": dict(sorted(class_err.items())),
    }
