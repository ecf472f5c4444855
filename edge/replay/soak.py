"""Soak a running appliance: a recorded shift looped for N minutes through ``traycheck run``.

Why: what leaks shows only over time. Every file the service writes must be owned by a row
and purged with it, and the outbox and sessions tables must stay bounded. This drives the
real service (its own process, HTTP POS, MQTT, dashboard sign-ins) with retention in
minutes, samples the data directory while it runs, and compares files with rows at the end.
"""
from __future__ import annotations

import json
import math
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml


def looped_scenario(src: Path, minutes: float, gap_s: float = 3.0) -> dict:
    """``src``'s trays repeated until ``minutes`` of stream, each copy with its own order ids
    (``6783-2``: the ticket prints the id, so each loop's trays meet their own orders)."""
    base = yaml.safe_load(Path(src).read_text())
    trays = base["trays"]
    period = max(t["at"] + t["dwell"] for t in trays) + gap_s
    loops = max(1, math.ceil(minutes * 60 / period))
    out = []
    for k in range(loops):
        for t in trays:
            copy = json.loads(json.dumps(t))
            copy["at"] = round(t["at"] + k * period, 3)
            copy["order"]["id"] = f"{t['order']['id']}-{k}"
            out.append(copy)
    return {**{k: v for k, v in base.items() if k != "trays"}, "name": f"{base['name']}-x{loops}", "trays": out}


def render_looped(src: Path, minutes: float, out: Path) -> Path:
    """Render the looped scenario of ``src`` (a scenario.yaml) into the shift folder ``out``."""
    from detectors.synth.scenario import load_scenario
    from detectors.synth.shift import render_shift

    out.mkdir(parents=True, exist_ok=True)
    path = out / "looped.yaml"
    path.write_text(yaml.safe_dump(looped_scenario(src, minutes), sort_keys=False))
    return render_shift(load_scenario(path), out)


@dataclass
class Sample:
    """The data directory at one moment."""

    t: float
    files: int
    referenced: int
    trays: int
    outbox: int
    sessions: int


@dataclass
class SoakReport:
    stream_s: float
    wall_s: float
    orders_posted: int
    signins: int
    verdicts_seen: int
    files_written: int  # snapshot files that existed at some sample (a lower bound of all written)
    samples: list[Sample] = field(default_factory=list)
    files_at_end: list[str] = field(default_factory=list)
    referenced_at_end: list[str] = field(default_factory=list)

    @property
    def orphans(self) -> list[str]:
        return sorted(set(self.files_at_end) - set(self.referenced_at_end))

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.referenced_at_end) - set(self.files_at_end))

    def summary(self) -> dict:
        half = self.samples[len(self.samples) // 2:]
        peak = lambda key, rows: max((getattr(s, key) for s in rows), default=0)  # noqa: E731
        return {"stream_min": round(self.stream_s / 60, 1), "wall_min": round(self.wall_s / 60, 1),
                "orders_posted": self.orders_posted, "signins": self.signins, "verdicts": self.verdicts_seen,
                "files_at_end": len(self.files_at_end), "referenced_at_end": len(self.referenced_at_end),
                "orphan_files": len(self.orphans), "missing_files": len(self.missing),
                "files_seen": self.files_written,
                **{f"{k}_peak": peak(k, self.samples) for k in ("files", "trays", "outbox", "sessions")},
                **{f"{k}_peak_second_half": peak(k, half) for k in ("files", "trays", "outbox", "sessions")}}

    def to_json(self) -> str:
        return json.dumps({"summary": self.summary(), "samples": [asdict(s) for s in self.samples]}, indent=1)


def snapshot_files(data_dir: Path) -> list[str]:
    root = data_dir / "snapshots"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.jpg")) if root.exists() else []


def referenced_files(db: Path) -> list[str]:
    """Every snapshot a row names (a tray's newest, each verdict's own), read-only."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT snapshot FROM trays WHERE snapshot IS NOT NULL UNION "
                           "SELECT json_extract(record, '$.snapshot') FROM verdicts "
                           "WHERE json_extract(record, '$.snapshot') IS NOT NULL").fetchall()
        return sorted(r[0] for r in rows)
    finally:
        con.close()


def sample(data_dir: Path, t: float) -> Sample:
    db = data_dir / "traycheck.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        count = lambda table: con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: E731
        trays, outbox, sessions = count("trays"), count("outbox"), count("sessions")
    finally:
        con.close()
    return Sample(round(t, 1), len(snapshot_files(data_dir)), len(referenced_files(db)), trays, outbox, sessions)


class Soak:
    """One soak: ``shift`` (a rendered shift folder) played by ``traycheck run`` at ``speed``."""

    def __init__(self, shift: Path, data_dir: Path, mqtt_port: int, http_port: int, speed: float = 1.0,
                 retention_minutes: float = 2.0, purge_every_minutes: float = 0.5, session_idle_minutes: float = 0.5,
                 signin_every_s: float = 5.0, sample_every_s: float = 10.0):
        self.shift, self.data_dir, self.speed = Path(shift), Path(data_dir), speed
        self.http = f"http://127.0.0.1:{http_port}"
        self.token = "soak-token-" + "x" * 24
        self.signin_every_s, self.sample_every_s = signin_every_s, sample_every_s
        self.config = self.data_dir.parent / f"{self.data_dir.name}.yaml"
        self.config.write_text(yaml.safe_dump({
            "site": "soak", "data_dir": str(self.data_dir),
            "cameras": [{"name": "expo-1", "source": str(self.shift / "video.mp4"), "speed": speed}],
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port},
            "http": {"listen": f"127.0.0.1:{http_port}", "api_token": self.token,
                     "session_idle_minutes": session_idle_minutes},
            "retention": {"days": retention_minutes / 1440, "every_minutes": purge_every_minutes, "min_free_mb": 0},
            "orders": {"expire_minutes": 5}}))
        self._stop = threading.Event()

    # -- the pieces ----------------------------------------------------------------
    def _post_orders(self, t0: float, report: SoakReport) -> None:
        """The shift's POS script over the real API, at its stream times (scaled by ``speed``)."""
        for line in (self.shift / "pos.jsonl").read_text().splitlines():
            ev = json.loads(line)
            if self._stop.wait(max(0.0, t0 + ev["t"] / self.speed - time.monotonic())):
                return
            if ev["type"] == "order":
                req = urllib.request.Request(f"{self.http}/api/orders", json.dumps(ev["order"]).encode(),
                                             {"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"}, method="POST")
            else:
                req = urllib.request.Request(f"{self.http}/api/orders/{urllib.parse.quote(ev['id'])}",
                                             None, {"Authorization": f"Bearer {self.token}"}, method="DELETE")
            with urllib.request.urlopen(req, timeout=30) as resp:
                resp.read()
            report.orders_posted += ev["type"] == "order"

    def _sign_in(self, report: SoakReport) -> None:
        """A staff member signing in over and over: each sign-in makes a session row."""
        no_redirect = urllib.request.build_opener(_NoRedirect)
        body = urllib.parse.urlencode({"name": "soak", "password": "soak-password-1", "next": "/"}).encode()
        while not self._stop.wait(self.signin_every_s):
            try:
                no_redirect.open(urllib.request.Request(f"{self.http}/login", body, method="POST"), timeout=30)
            except urllib.error.HTTPError as exc:
                if exc.code != 303:
                    raise RuntimeError(f"sign-in answered {exc.code}") from None
            report.signins += 1

    def _verdicts(self) -> int:
        """Verdicts the service emitted (``traycheck_verdicts_total`` summed over its labels)."""
        req = urllib.request.Request(f"{self.http}/metrics", headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("traycheck_verdicts_total{")))

    def _wait_ready(self, proc: subprocess.Popen, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise RuntimeError(f"traycheck run exited with {proc.returncode} (see its log)")
            try:
                with urllib.request.urlopen(f"{self.http}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("traycheck run did not answer /healthz")

    # -- the run ---------------------------------------------------------------------
    def run(self, log_file: Path, progress=None) -> SoakReport:
        exe = [sys.executable, "-m", "edge"]
        pw = self.data_dir.parent / "soak-password"
        pw.write_text("soak-password-1\n")
        subprocess.run([*exe, "users", "add", "soak", "--password-file", str(pw), "--data-dir", str(self.data_dir)],
                       check=True, capture_output=True)
        stream_s = float(json.loads((self.shift / "truth.jsonl").read_text().splitlines()[-1])["leave_t"]) + 3
        report = SoakReport(stream_s=stream_s, wall_s=0, orders_posted=0, signins=0, verdicts_seen=0,
                            files_written=0)
        seen: set[str] = set()
        with open(log_file, "w") as log:
            proc = subprocess.Popen([*exe, "run", "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(proc)
            t0 = time.monotonic()
            workers = [threading.Thread(target=self._post_orders, args=(t0, report), daemon=True),
                       threading.Thread(target=self._sign_in, args=(report,), daemon=True)]
            for w in workers:
                w.start()
            end = t0 + stream_s / self.speed
            while time.monotonic() < end:
                if proc.poll() is not None:
                    raise RuntimeError(f"traycheck run exited with {proc.returncode} during the soak")
                time.sleep(min(self.sample_every_s, max(0.0, end - time.monotonic())))
                report.samples.append(sample(self.data_dir, time.monotonic() - t0))
                seen.update(snapshot_files(self.data_dir))
                if progress:
                    progress(report.samples[-1])
            report.wall_s = time.monotonic() - t0
            report.verdicts_seen = self._verdicts()
        finally:
            self._stop.set()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        report.files_at_end = snapshot_files(self.data_dir)
        report.referenced_at_end = referenced_files(self.data_dir / "traycheck.db")
        report.files_written = len(seen | set(report.files_at_end))
        return report


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (a 303 is the answer itself)
        return None
