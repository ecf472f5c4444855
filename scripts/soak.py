#!/usr/bin/env python3
"""Soak the appliance: a fixture looped for N minutes of stream through ``traycheck run``, with retention
in minutes, a real Mosquitto, POS orders over HTTP and staff signing in. Prints a JSON report (files on
disk vs rows, outbox and sessions over time) and exits 1 when a file has no row or a row no file.

    .venv/bin/python scripts/soak.py --minutes 30 --work /tmp/soak          # real time: 30 min
    .venv/bin/python scripts/soak.py --minutes 5 --speed 2 --work /tmp/soak  # 5 min of stream in 2.5
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.replay.soak import Soak, render_looped  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", default="fixtures/lunch-rush", help="recorded shift whose scenario is looped")
    ap.add_argument("--minutes", type=float, default=30, help="minutes of stream")
    ap.add_argument("--speed", type=float, default=1.0, help="times real time")
    ap.add_argument("--retention-minutes", type=float, default=2.0)
    ap.add_argument("--broker-outage", type=float, nargs=2, default=(0.3, 0.5), metavar=("FROM", "TO"),
                    help="stop Mosquitto between these fractions of the run (the outbox fills, then drains)")
    ap.add_argument("--work", type=Path, required=True, help="folder for the shift, data dir, logs (emptied)")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    a.work.mkdir(parents=True)
    print(f"rendering {a.minutes} min of {a.fixture} ...", file=sys.stderr)
    shift = render_looped(Path(a.fixture) / "scenario.yaml", a.minutes, a.work / "shift")
    port = free_port()
    (a.work / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    start_broker = lambda: subprocess.Popen([mosquitto, "-c", str(a.work / "mosquitto.conf")],  # noqa: E731
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    broker = start_broker()
    wall = (json.loads((shift / "truth.jsonl").read_text().splitlines()[-1])["leave_t"] + 3) / a.speed
    stop = threading.Event()

    def outage() -> None:
        nonlocal broker
        if stop.wait(wall * a.broker_outage[0]):
            return
        print("stopping Mosquitto (outage)", file=sys.stderr)
        broker.terminate()
        if stop.wait(wall * (a.broker_outage[1] - a.broker_outage[0])):
            return
        print("starting Mosquitto again", file=sys.stderr)
        broker = start_broker()

    threading.Thread(target=outage, daemon=True).start()
    try:
        time.sleep(0.5)
        soak = Soak(shift, a.work / "data", port, free_port(), a.speed, a.retention_minutes)
        report = soak.run(a.work / "service.log",
                          progress=lambda s: print(f"{s.t:7.0f} s  files {s.files}  rows {s.referenced}  "
                                                   f"trays {s.trays}  outbox {s.outbox}  sessions {s.sessions}",
                                                   file=sys.stderr))
    finally:
        stop.set()
        broker.terminate()
    (a.work / "report.json").write_text(report.to_json())
    print(report.to_json())
    return 1 if report.orphans or report.missing else 0


if __name__ == "__main__":
    sys.exit(main())
