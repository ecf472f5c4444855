"""Shared fixtures: paths, a CLI runner (a real subprocess), a small scenario."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# CI=true: a skip is a failure, and the run ends with a line of counts (the hooks are in tests/ci_hooks.py)
from ci_hooks import pytest_runtest_makereport, pytest_sessionfinish  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHIFTS = sorted(p.parent for p in FIXTURES.glob("*/scenario.yaml"))

SMALL_SCENARIO = """\
name: small-test
seed: 5
trays:
  - at: 0.5
    dwell: 2.5
    order:
      id: "1042"
      items:
        - {sku: BURGER_MEAL, qty: 1}
        - {sku: SAUCE_BBQ, qty: 2}
      sent: -3.0
    placed: {burger: 1, fries: 1, drink: 1, sauce: 1}
    hands: 1
    clutter: 1
    fix:
      at: 1.0
      placed: {burger: 1, fries: 1, drink: 1, sauce: 2}
  - at: 5.5
    dwell: 2.0
    order: {id: "1043", items: [{sku: WRAP, qty: 1}, {sku: KETCHUP, qty: 3}], sent: never}
    ticket: damaged
"""


@pytest.fixture
def small_scenario(tmp_path: Path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text(SMALL_SCENARIO)
    return p


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m edge ARGS`` as a user would; text output."""
    # wide: a table's cells must not wrap a long pytest tmp path (popen-gw0/... under xdist)
    env = dict(os.environ, COLUMNS="400")
    # base weights installed on a developer's machine must not change what `train --data` starts from here
    env["TRAYCHECK_BASE_WEIGHTS"] = ""
    env["XDG_DATA_HOME"] = str(ROOT / ".no-such-data-home")
    return subprocess.run([sys.executable, "-m", "edge", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only tmpfs (the tests run as root, who ignores file modes but not a read-only mount)."""
    import subprocess

    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)]).returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    yield ro
    subprocess.run(["umount", "-l", str(ro)], check=True)


@pytest.fixture
def small_fs(tmp_path: Path):
    """A real 16 MiB tmpfs (a disk a test can fill), always unmounted after the test."""
    from tests.disk_helpers import small_fs_at

    yield from small_fs_at(tmp_path)


@pytest.fixture
def broker(tmp_path: Path):
    """A real Mosquitto on a free loopback port, stopped after the test."""
    from tests.mqtt_helpers import Broker

    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


def wait_http_ok(url: str, proc: subprocess.Popen, what: str, timeout: float = 60):
    """Poll ``url`` until it answers 200 (the response), failing if ``proc`` dies or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            r = httpx.get(url, timeout=1)
            if r.status_code == 200:
                return r
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, what
        time.sleep(0.2)


# -- the dashboard on real HTTP (test_security.py, test_signin_limits.py) ---------------------------------
@pytest.fixture
def serve(tmp_path):
    """serve(**options) -> (base url, store); every server started is stopped after the test."""
    started = []

    from edge.web.server import WebServer
    from mqtt_helpers import free_port
    from security_helpers import build

    def start(trusted_proxies=None, **options):
        app, store = build(tmp_path / f"s{len(started)}", **options)
        port = free_port()
        web = WebServer(app, "127.0.0.1", port, trusted_proxies=trusted_proxies)
        web.start()
        started.append((web, store))
        return f"http://127.0.0.1:{port}", store

    yield start
    for web, store in started:
        web.stop()
        store.close()


@pytest.fixture
def server(serve):
    return serve()


# -- a box filled by a real replay and served (test_tray_flags.py, test_data_export.py): one replay ----------
@pytest.fixture(scope="session")
def box(tmp_path_factory):
    from box_helpers import serve_replayed_box

    yield from serve_replayed_box(tmp_path_factory)


@pytest.fixture(scope="session")
def flagged(box) -> int:
    from box_helpers import flag_third_tray

    return flag_third_tray(box)
