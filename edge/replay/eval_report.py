"""Run ``eval`` over one shift, a folder of shifts or fresh scenarios, and print the report."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from detectors.detections import ModelDetector
from detectors.loader import load_detector
from detectors.synth.scenario import load_scenario
from detectors.synth.shift import render_shift
from edge.core import console
from edge.errors import InvalidInput
from edge.replay.eval_cameras import score_on_cameras
from edge.replay.evaluate import score_shift, summarize
from edge.replay.fresh import check_renderable, fresh_seeds, render_fresh_one, spread
from edge.replay.health_eval import summarize_health
from edge.replay.replay_score import replay_and_score
from edge.sources.shift_files import read_jsonl
from orders.menu import Menu, load_menu


def shift_folders(path: Path) -> list[Path]:
    path = Path(path)
    if (path / "truth.jsonl").is_file():
        return [path]
    if path.is_dir():
        found = sorted(p.parent for p in path.glob("*/truth.jsonl"))
        if found:
            return found
    raise InvalidInput(f"{path}: no truth.jsonl here or in its subfolders (not a recorded shift)")


@dataclass
class EvalRequest:
    """What ``traycheck eval`` was asked for (the CLI's options)."""

    path: Path | None = None
    verdicts: Path | None = None
    model: str | None = None
    variant: str = "fp32"
    threads: int = 2
    quiet: bool = False
    menu_file: Path | None = None
    fresh: int = 0
    kinds: list[str] = field(default_factory=lambda: ["rush-hard"])
    seed: int | None = None
    repeats: int = 0
    keep: Path | None = None
    jobs: int = 1
    cameras: int = 0  # > 0: the shifts on this many cameras at once, in real time (``eval_cameras``)


def _say(req: EvalRequest, msg: str) -> None:
    if not req.quiet:
        console.print(msg, highlight=False)


class _Scorer:
    """Replays shifts with one detector (loaded on first use) and scores them."""

    def __init__(self, req: EvalRequest):
        self.req = req
        self.menu: Menu | None = load_menu(req.menu_file) if req.menu_file is not None else None
        self.detector: ModelDetector | None = None

    def __call__(self, folder: Path) -> dict:
        self.detector = self.detector or load_detector(self.req.model, self.req.variant, threads=self.req.threads)
        return replay_and_score(folder, self.detector, self.menu, progress=not self.req.quiet)[0]


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


def _task(req: EvalRequest, task: tuple, scorer: _Scorer | None = None) -> dict:
    """One unit of work: ("shift", folder) | ("fresh", kind, seed, out) | ("draw", folder, k, out)."""
    score = scorer or _Scorer(req)
    if task[0] == "shift":
        return score(task[1])
    if task[0] == "fresh":
        _, kind, seed, out = task
        return score(render_fresh_one(kind, seed, out, lambda m: _say(req, m)))
    _, folder, k, out = task
    _say(req, f"rendering {folder.name} with noise draw {k}")
    return score(render_shift(load_scenario(folder / "scenario.yaml"), out / f"{folder.name}-draw{k}", draw=k)) \
        | {"shift": folder.name, "draw": k}


def _run(req: EvalRequest, tasks: list[tuple]) -> list[dict]:
    """The tasks in order, ``req.jobs`` at a time (each job a process with its own detector)."""
    if req.jobs <= 1 or len(tasks) <= 1:
        scorer = _Scorer(req)
        return [_task(req, t, scorer) for t in tasks]
    from concurrent.futures import ProcessPoolExecutor

    quiet = EvalRequest(**{**req.__dict__, "quiet": True})
    with ProcessPoolExecutor(min(req.jobs, len(tasks))) as pool:
        return list(pool.map(_task, [quiet] * len(tasks), tasks))


def evaluate(req: EvalRequest) -> dict:
    """The report of ``traycheck eval`` (JSON-ready)."""
    if req.path is None and not req.fresh:
        raise InvalidInput("give a shift folder (or a folder of shifts), or --fresh N")
    if req.cameras and req.verdicts is not None:
        raise InvalidInput("--verdicts scores given records; it does not go with --cameras (which replays)")
    if req.cameras and (req.fresh or req.repeats or req.jobs > 1):
        raise InvalidInput("--cameras replays the given shifts at once in one process; it does not go "
                        "with --fresh, --repeats or --jobs")
    if req.verdicts is not None and (req.fresh or req.repeats):
        raise InvalidInput("--verdicts scores given records; it does not go with --fresh or --repeats")
    with tempfile.TemporaryDirectory(prefix="traycheck-eval-") as tmp:
        work = req.keep or Path(tmp)
        folders: list[Path] = shift_folders(req.path) if req.path is not None else []
        if req.verdicts is not None:
            if len(folders) > 1:
                raise InvalidInput("--verdicts scores one shift; give a shift folder, not a folder of shifts")
            if not req.verdicts.is_file():
                raise InvalidInput(f"{req.verdicts}: not found")
            return _report([score_shift(folders[0], read_jsonl(req.verdicts))])
        extra: dict = {}
        if req.cameras:
            _say(req, f"{req.cameras} cameras at once, in real time, sharing one model")
            scored, cameras = score_on_cameras(folders, req.cameras, req.model, req.variant, req.threads,
                                               load_menu(req.menu_file) if req.menu_file else None, req.quiet)
            return _report(scored) | {"cameras": cameras}
        tasks: list[tuple] = []
        if req.fresh:
            master, pairs = fresh_seeds(req.kinds, req.fresh, req.seed)
            extra["fresh"] = {"seed": master, "scenarios": [f"{k}-{s}" for k, s in pairs]}
            _say(req, f"fresh scenarios from --seed {master}: {', '.join(extra['fresh']['scenarios'])}")
            (work / "fresh").mkdir(parents=True, exist_ok=True)
        if req.repeats:
            for folder in folders:
                check_renderable(folder)
            tasks = [("draw", f, k, work / "draws") for f in folders for k in range(1, req.repeats + 1)]
            tasks += [("fresh", k, s, work / "fresh") for k, s in (pairs if req.fresh else [])]
        else:
            tasks = [("shift", f) for f in folders] + [("fresh", k, s, work / "fresh")
                                                        for k, s in (pairs if req.fresh else [])]
        scored = _run(req, tasks)
        if not req.repeats:
            return _report(scored) | extra
        by_draw: dict[int, list[dict]] = {}
        for s in scored:
            by_draw.setdefault(s.get("draw", 0), []).append(s)
        report = _report(scored)
        report["repeats"] = [summarize(by_draw[k]) | {"draw": k} for k in sorted(by_draw)]
        report["spread"] = spread([r for r in report["repeats"] if r["draw"]])
        return report | extra


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
