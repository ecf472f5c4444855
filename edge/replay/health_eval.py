"""Scoring camera health in ``traycheck eval``: a replay's changes against the truth; runs no checks.

The truth is ``camera_truth.jsonl``; the replay writes one line per change of any check's
state (``health_log``, the interface of issue 16); each line lists every check. A check is *raised* when its
state becomes ``fault`` and *cleared* when it leaves ``fault`` (a ``warning`` is
neither). Per truth fault, the check that must fire (``check``) is looked up:

* detected: it is raised within ``[start, end + GRACE_S)``; the detection delay is
  that raise minus ``start``;
* cleared: the end of the last such raise made before ``end`` (of the first one when
  all came later); the clear delay is that minus ``end`` (None when it never clears
  before the log ends; negative when it cleared while the fault went on);
* in time: raised within ``RAISE_WITHIN_S`` of the start and cleared within
  ``CLEAR_WITHIN_S`` of the end, not before it (the issue's acceptance).

A false alarm is a raise of any check outside every truth interval extended by
``GRACE_S``. The rate per hour is counted on shifts without faults (the fault
kinds' shifts are scored on their faults); raises of another check during a fault
(dark also reading as covered) are listed (``other_checks``), not counted as false.
"""
from __future__ import annotations

from pathlib import Path

from edge.sources.shift_files import read_jsonl
from edge.sources.video_file import VideoFile, shift_video

RAISE_WITHIN_S = 15.0
CLEAR_WITHIN_S = 15.0
GRACE_S = 15.0
CAMERA_TRUTH = "camera_truth.jsonl"


def read_camera_truth(folder: Path) -> list[dict]:
    """The shift's faults (none when it has no camera_truth.jsonl)."""
    path = Path(folder) / CAMERA_TRUTH
    return read_jsonl(path) if path.is_file() else []


def read_changes(path: Path) -> list[dict]:
    """Health change lines in stream-time order (none when the replay wrote no file)."""
    return sorted(read_jsonl(path), key=lambda c: c["t"]) if Path(path).is_file() else []


def stream_seconds(folder: Path) -> float:
    """Length of the shift's video in stream seconds."""
    video = VideoFile(shift_video(folder))
    try:
        return round((video.frame_count or 0) / video.fps, 3)
    finally:
        video.cap.release()


def raises(changes: list[dict]) -> list[dict]:
    """Every stretch a check was in ``fault``: ``{"check", "raised", "cleared"}`` (cleared None: still
    at fault when the log ends), in order of raising."""
    state: dict[str, str] = {}
    open_: dict[str, dict] = {}
    out: list[dict] = []
    for change in changes:
        for check, info in change.get("checks", {}).items():
            now = info.get("state", "ok")
            if now == "fault" and state.get(check) != "fault":
                open_[check] = {"check": check, "raised": float(change["t"]), "cleared": None}
                out.append(open_[check])
            elif now != "fault" and state.get(check) == "fault":
                open_.pop(check)["cleared"] = float(change["t"])
            state[check] = now
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def score_health(shift: str, truth: list[dict], changes: list[dict], stream_s: float) -> dict:
    """One shift's faults (detected, delays) and false alarms (see the module docstring)."""
    spans = raises(changes)
    faults = []
    for f in truth:
        start, end = float(f["start"]), float(f["end"])
        mine = [s for s in spans if s["check"] == f["check"] and start <= s["raised"] < end + GRACE_S]
        detect = mine[0]["raised"] - start if mine else None
        during = [s for s in mine if s["raised"] < end] or mine[:1]
        cleared = during[-1]["cleared"] if mine else None
        clear = cleared - end if cleared is not None else None
        others = sorted({s["check"] for s in spans if s["check"] != f["check"] and start <= s["raised"] < end})
        faults.append({
            "kind": f["kind"], "check": f["check"], "start": start, "end": end, "detected": bool(mine),
            "detect_delay_s": _r(detect), "clear_delay_s": _r(clear), "raises": len(mine),
            "in_time": detect is not None and detect <= RAISE_WITHIN_S and clear is not None
                       and 0.0 <= clear <= CLEAR_WITHIN_S,
            "other_checks": others})
    windows = [(float(f["start"]), float(f["end"]) + GRACE_S) for f in truth]
    false = [{"check": s["check"], "t": s["raised"], "cleared": s["cleared"]} for s in spans
             if not any(a <= s["raised"] <= b for a, b in windows)]
    return {"shift": shift, "stream_s": stream_s, "faults": faults, "false_alarms": false}


def _max(vals: list[float | None]) -> float | None:
    got = [v for v in vals if v is not None]
    return max(got) if got else None


def summarize_health(shifts: list[dict]) -> dict:
    """Per fault kind: how many, detected, in time, worst delays; false alarms per hour of stream
    on the shifts without faults."""
    by_kind: dict[str, dict] = {}
    for f in (f for s in shifts for f in s["faults"]):
        k = by_kind.setdefault(f["kind"], {"check": f["check"], "faults": 0, "detected": 0, "in_time": 0,
                                            "detect_delays_s": [], "clear_delays_s": []})
        k["faults"] += 1
        k["detected"] += f["detected"]
        k["in_time"] += f["in_time"]
        k["detect_delays_s"].append(f["detect_delay_s"])
        k["clear_delays_s"].append(f["clear_delay_s"])
    for k in by_kind.values():
        k["detect_delay_max_s"] = _max(k["detect_delays_s"]) if k["detected"] == k["faults"] else None
        k["clear_delay_max_s"] = _max(k["clear_delays_s"]) if k["detected"] == k["faults"] else None
    clean = [s for s in shifts if not s["faults"]]
    hours = sum(s["stream_s"] for s in clean) / 3600
    clean_false = sum(len(s["false_alarms"]) for s in clean)
    n_faults = sum(k["faults"] for k in by_kind.values())
    return {
        "faults": n_faults,
        "faults_in_time": sum(k["in_time"] for k in by_kind.values()),
        "by_kind": dict(sorted(by_kind.items())),
        "false_alarms": sum(len(s["false_alarms"]) for s in shifts),
        "fault_free_stream_h": round(hours, 4),
        "false_alarms_per_hour": round(clean_false / hours, 3) if hours else None,
        "false_alarm_list": [dict(a, shift=s["shift"]) for s in shifts for a in s["false_alarms"]],
    }
