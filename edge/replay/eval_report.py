"""Run ``eval`` over one shift, a folder of shifts or fresh scenarios, and print the report."""
from __future__ import annotations

import tempfile
from pathlib import Path

from rich.table import Table

from edge.core import console
from edge.errors import InvalidInput
from edge.replay.eval_cameras import score_on_cameras
from edge.replay.eval_tasks import EvalRequest, run_tasks, say
from edge.replay.evaluate import score_shift, summarize
from edge.replay.fresh import check_renderable, fresh_seeds, spread
from edge.replay.health_eval import summarize_health
from edge.sources.shift_files import read_jsonl
from orders.menu import load_menu


def shift_folders(path: Path) -> list[Path]:
    path = Path(path)
    if (path / "truth.jsonl").is_file():
        return [path]
    if path.is_dir():
        found = sorted(p.parent for p in path.glob("*/truth.jsonl"))
        if found:
            return found
    raise InvalidInput(f"{path}: no truth.jsonl here or in its subfolders (not a recorded shift)")


def _name(s: dict) -> str:
    return f"{s['shift']} draw {s['draw']}" if s.get("draw") else s["shift"]


def _report(scored: list[dict]) -> dict:
    report = summarize(scored)
    report["per_shift"] = [summarize([s]) | {"shift": _name(s)} for s in scored]
    report["wrong_trays"] = [dict(r, shift=_name(s)) for s in scored for r in s["trays"]
                             if not (r["initial_right"] and r["final_right"])]
    report["undecidable"] = [dict(r, shift=_name(s)) for s in scored for r in s["trays"] if "undecidable" in r]
    health = [s["health"] | {"shift": _name(s)} for s in scored if "health" in s]
    if health:  # not with --verdicts: given records carry no health changes
        report["health"] = summarize_health(health)
        report["health_faults"] = [dict(f, shift=h["shift"]) for h in health for f in h["faults"]]
    return report


def evaluate(req: EvalRequest) -> dict:
    """The report of ``traycheck eval`` (JSON-ready)."""
    _check_request(req)
    with tempfile.TemporaryDirectory(prefix="traycheck-eval-") as tmp:
        work = req.keep or Path(tmp)
        folders: list[Path] = shift_folders(req.path) if req.path is not None else []
        if req.verdicts is not None:
            return _score_given(req.verdicts, folders)
        if req.cameras:
            say(req, f"{req.cameras} cameras at once, in real time, sharing one model")
            scored, cameras = score_on_cameras(folders, req.cameras, req.model, req.variant, req.threads,
                                               load_menu(req.menu_file) if req.menu_file else None, req.quiet)
            return _report(scored) | {"cameras": cameras}
        tasks, extra = _tasks(req, folders, work)
        scored = run_tasks(req, tasks)
        return (_repeats_report(scored) if req.repeats else _report(scored)) | extra


def _check_request(req: EvalRequest) -> None:
    """Options that do not go together: one line each, before any work."""
    if req.path is None and not req.fresh:
        raise InvalidInput("give a shift folder (or a folder of shifts), or --fresh N")
    if req.cameras and req.verdicts is not None:
        raise InvalidInput("--verdicts scores given records; it does not go with --cameras (which replays)")
    if req.cameras and (req.fresh or req.repeats or req.jobs > 1):
        raise InvalidInput("--cameras replays the given shifts at once in one process; it does not go "
                           "with --fresh, --repeats or --jobs")
    if req.verdicts is not None and (req.fresh or req.repeats):
        raise InvalidInput("--verdicts scores given records; it does not go with --fresh or --repeats")


def _score_given(verdicts: Path, folders: list[Path]) -> dict:
    """``--verdicts``: records made earlier, scored against one shift's truth (nothing replayed)."""
    if len(folders) > 1:
        raise InvalidInput("--verdicts scores one shift; give a shift folder, not a folder of shifts")
    if not verdicts.is_file():
        raise InvalidInput(f"{verdicts}: not found")
    return _report([score_shift(folders[0], read_jsonl(verdicts))])


def _tasks(req: EvalRequest, folders: list[Path], work: Path) -> tuple[list[tuple], dict]:
    """The units of work (see ``eval_tasks``), and the report's ``fresh`` part when scenarios are drawn."""
    extra: dict = {}
    pairs: list[tuple[str, int]] = []
    if req.fresh:
        master, pairs = fresh_seeds(req.kinds, req.fresh, req.seed)
        extra["fresh"] = {"seed": master, "scenarios": [f"{k}-{s}" for k, s in pairs]}
        say(req, f"fresh scenarios from --seed {master}: {', '.join(extra['fresh']['scenarios'])}")
        (work / "fresh").mkdir(parents=True, exist_ok=True)
    fresh: list[tuple] = [("fresh", k, s, work / "fresh") for k, s in pairs]
    if not req.repeats:
        return [("shift", f) for f in folders] + fresh, extra
    for folder in folders:
        check_renderable(folder)
    return [("draw", f, k, work / "draws") for f in folders for k in range(1, req.repeats + 1)] + fresh, extra


def _repeats_report(scored: list[dict]) -> dict:
    """``--repeats``: the report with a row per noise draw and the spread between the draws."""
    by_draw: dict[int, list[dict]] = {}
    for s in scored:
        by_draw.setdefault(s.get("draw", 0), []).append(s)
    report = _report(scored)
    report["repeats"] = [summarize(by_draw[k]) | {"draw": k} for k in sorted(by_draw)]
    report["spread"] = spread([r for r in report["repeats"] if r["draw"]])
    return report


_COLS = [("trays", "trays"), ("initial acc %", "initial_accuracy"), ("final acc %", "final_accuracy"),
         ("order matched %", "order_matched"), ("mismatch recall %", "mismatch_recall"),
         ("false alerts %", "false_alert_rate"), ("missed", "missed_trays"), ("latency p50 s", "latency_p50_s"),
         ("p95 s", "latency_p95_s")]


def _fmt(v: object) -> str:
    return "-" if v is None else str(v)


def print_report(report: dict) -> None:
    t = Table(title="Verdicts against truth (order ids checked)")
    t.add_column("shift")
    for c, _ in _COLS:
        t.add_column(c, justify="right")
    rows = report.get("repeats") and [r | {"shift": f"noise draw {r['draw']}"} for r in report["repeats"]] \
        or report["per_shift"]
    for r in rows + ([report | {"shift": "all"}] if len(rows) > 1 else []):
        t.add_row(r["shift"], *(_fmt(r[k]) for _, k in _COLS))
    console.print(t)
    a = Table(title="By association method (first verdict)")
    for c in ("method", "trays", "initial acc %", "order matched %"):
        a.add_column(c, justify="left" if c == "method" else "right")
    for method, r in report["by_association"].items():
        a.add_row(method, str(r["trays"]), _fmt(r["initial_accuracy"]), _fmt(r["order_matched"]))
    console.print(a)
    if "cameras" in report:
        c = report["cameras"]
        console.print(f"{c['cameras']} cameras at once in real time: {c['frames']} frames seen, {c['dropped']} dropped "
                      f"({100 * c['dropped_fraction']:.2f} %)")
    if "fresh" in report:
        console.print(f"fresh scenarios (--seed {report['fresh']['seed']}): {', '.join(report['fresh']['scenarios'])}")
    for key, s in report.get("spread", {}).items():
        console.print(f"spread over {len(report['repeats'])} noise draws: {key} {s['min']}..{s['max']} "
                      f"(mean {s['mean']})")
    if "health" in report:
        print_health(report)
    errors = ", ".join(f"{k} {v}" for k, v in report["count_errors"].items() if v)
    console.print(f"count errors per class (first verdict vs truth): {errors or 'none'}")
    console.print(f"content right but order wrong would have scored right before: accuracy on content only "
                  f"{_fmt(report['content_only_accuracy'])} %")
    for note in report["truth_notes"]:
        console.print(f"[yellow]truth:[/yellow] {note}")
    for u in report["undecidable"]:
        console.print(f"  no product can be sure: {u['shift']} order {u['order_id']} ({u['undecidable']}): "
                      f"answered {u['initial']} for {u['got_order']}")
    for w in report["wrong_trays"]:
        console.print(f"  wrong: {w['shift']} order {w['order_id']} at {w['rest_t']} s: truth "
                      f"{w['truth_initial']}->{w['truth_final']}, got {w['initial']}->{w['final']} for order "
                      f"{w['got_order']} ({w['association']})")


def print_health(report: dict) -> None:
    """Camera health: per fault kind, detected and in time, worst delays; false alarms."""
    h = report["health"]
    if h["by_kind"]:
        t = Table(title="Camera health against camera_truth.jsonl (raise and clear within 15 s)")
        for c in ("fault", "check", "faults", "detected", "in time", "detect delay max s", "clear delay max s"):
            t.add_column(c, justify="left" if c in ("fault", "check") else "right")
        for kind, k in h["by_kind"].items():
            t.add_row(kind, k["check"], str(k["faults"]), str(k["detected"]), str(k["in_time"]),
                      _fmt(k["detect_delay_max_s"]), _fmt(k["clear_delay_max_s"]))
        console.print(t)
        for f in report["health_faults"]:
            if f["in_time"]:
                continue
            what = (f"{f['check']} raised after {f['detect_delay_s']} s, cleared {_fmt(f['clear_delay_s'])} s after "
                    "its end" if f["detected"] else f"{f['check']} not raised")
            also = f" (raised during it: {', '.join(f['other_checks'])})" if f["other_checks"] else ""
            console.print(f"  health: {f['shift']} {f['kind']} {f['start']}-{f['end']} s: {what}{also}")
    rate = h["false_alarms_per_hour"]
    console.print(f"false health alarms: {h['false_alarms']} ({_fmt(rate)} per hour over "
                  f"{round(h['fault_free_stream_h'] * 60, 1)} min of stream without faults)")
    for a in h["false_alarm_list"]:
        console.print(f"  false health alarm: {a['shift']} {a['check']} raised at {a['t']} s")
