"""The installed unit under a real systemd: a Debian root (debootstrap minbase with systemd),
deploy/install.sh run in it as in tests/test_install.py, then booted with
``systemd-nspawn -b --register=no --keep-unit`` (which works without a host systemd).

The container shares the host's network: its config uses only a fixture file as the camera
and a 127.0.0.1 listener, no broker. The example config (whose camera is on a private LAN
range) is replaced before the first boot, so it never runs. Commands run inside the container
with ``nsenter`` into its init's namespaces. The tests share one boot and run in file order.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests.mqtt_helpers import free_port
from tests.nspawn_container import CACHE, Container, systemd_rootfs
from tests.test_install import Chroot

WATCHDOG_S, RESTART_S = 30, 5  # the unit's WatchdogSec and RestartSec

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap, chroot and systemd-nspawn need root"),
    pytest.mark.skipif(shutil.which("systemd-nspawn") is None,
                       reason="systemd-nspawn is missing (apt-get install systemd-container)"),
    pytest.mark.skipif(shutil.which("debootstrap") is None and not CACHE.is_file(),
                       reason="debootstrap is missing (apt-get install debootstrap)"),
]

CONFIG = """\
site: boot-test
data_dir: /var/lib/traycheck
menu: {menu}
cameras:
  - name: expo-1
    source: /opt/traycheck/src/fixtures/lunch-rush/video.mp4
http:
  listen: 127.0.0.1:{port}
{extra}"""
MENU = "include_default: true\nskus:\n  BOOT_COMBO: [burger, fries]\n"


def running(p: dict[str, str]) -> bool:
    return p.get("ActiveState") == "active" and p.get("SubState") == "running" and p.get("MainPID", "0") != "0"


@pytest.fixture(scope="module")
def booted(tmp_path_factory):
    """(container, HTTP base URL) of the installed appliance, booted once for this module."""
    root = tmp_path_factory.mktemp("systemd-boot") / "root"
    systemd_rootfs(root)
    with Chroot(root) as ch:
        p = ch.run("/src/deploy/install.sh", "--no-start")
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    port = free_port()
    (root / "etc/traycheck/config.yaml").write_text(CONFIG.format(menu="default", port=port, extra=""))
    (root / "etc/traycheck/menu.yaml").write_text(MENU)
    c = Container(root)
    try:
        # booted means the unit runs: any test of the module may be the first (pytest-xdist splits modules)
        c.wait_for("traycheck active after boot", running, timeout=180)
        yield c, f"http://127.0.0.1:{port}"
    finally:
        c.close()
        mounted = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                   if line.split()[4].startswith(str(root))]
        if c.proc.returncode is not None and not mounted:  # never delete through a mount (/dev, /proc)
            shutil.rmtree(root, ignore_errors=True)  # 1.5 GB; failures carry the journal in their message


def test_active_and_ready_after_boot_with_a_clean_journal(booted):
    c, base = booted
    props = c.wait_for("traycheck active after boot", running, timeout=60)
    assert props["StatusText"] == "checking trays"  # sent with READY=1: Type=notify is active only after it
    deadline = time.monotonic() + 60
    while (r := httpx.get(f"{base}/readyz", timeout=5)).status_code != 200:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.5)
    assert r.json()["cameras"] == {"expo-1": True}
    start = c.journal()
    assert "Started traycheck.service" in start, start
    warnings = [line for line in c.journal("--priority=warning").splitlines() if line.strip() and
                not line.startswith("-- ")]
    assert not warnings, warnings
    for bad in ("cpuinfo", "already exists but the mode is different", "Traceback", "level=warning",
                "level=error"):
        assert bad not in start, (bad, start)
    token = (c.root / "var/lib/traycheck/api-token").read_text().strip()
    password = (c.root / "var/lib/traycheck/first-password").read_text().strip()
    assert token not in start and password not in start  # the log says where they are, never what
    assert "/var/lib/traycheck/api-token" in start and "/var/lib/traycheck/first-password" in start
    for f in ("api-token", "first-password"):
        assert (c.root / "var/lib/traycheck" / f).stat().st_mode & 0o777 == 0o600


def test_reload_applies_a_new_menu_without_a_restart(booted):
    c, base = booted
    before = c.wait_for("traycheck running", running, timeout=60)
    token = (c.root / "var/lib/traycheck/api-token").read_text().strip()
    order = {"id": "boot-1", "items": [{"sku": "BOOT_COMBO", "qty": 1}]}
    auth = {"Authorization": f"Bearer {token}"}
    refused = httpx.post(f"{base}/api/orders", json=order, headers=auth, timeout=10)
    assert refused.status_code == 422 and "BOOT_COMBO" in refused.text
    cfg = c.root / "etc/traycheck/config.yaml"
    cfg.write_text(cfg.read_text().replace("menu: default", "menu: /etc/traycheck/menu.yaml"))
    assert c.ctl("systemctl", "reload", "traycheck.service").returncode == 0
    deadline = time.monotonic() + 30
    while (r := httpx.post(f"{base}/api/orders", json=order, headers=auth, timeout=10)).status_code != 200:
        assert time.monotonic() < deadline, (r.status_code, r.text, c.journal()[-2000:])
        time.sleep(0.5)
    assert r.json() == {"id": "boot-1", "stored": True}
    assert c.show("MainPID")["MainPID"] == before["MainPID"]  # reloaded in place
    assert "reloaded /etc/traycheck/config.yaml" in c.journal()


def test_a_stopped_process_is_killed_by_the_watchdog_and_restarted(booted):
    c, _ = booted
    before = c.wait_for("traycheck running", running, timeout=60)
    assert c.ctl("systemctl", "kill", "--signal=SIGSTOP", "--kill-who=main", "traycheck.service").returncode == 0
    t0 = time.monotonic()
    after = c.wait_for("a new main process after the watchdog timeout",
                       lambda p: running(p) and p["MainPID"] != before["MainPID"],
                       timeout=WATCHDOG_S + RESTART_S + 30)
    took = time.monotonic() - t0
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1
    log = c.journal()
    assert "Watchdog timeout (limit 30s)!" in log and "Failed with result 'watchdog'" in log, log[-2000:]
    assert took <= WATCHDOG_S + RESTART_S + 30, took


def test_a_killed_process_is_restarted(booted):
    c, _ = booted
    before = c.wait_for("traycheck running", running, timeout=60)
    assert c.ctl("systemctl", "kill", "--signal=SIGKILL", "--kill-who=main", "traycheck.service").returncode == 0
    after = c.wait_for("a new main process after SIGKILL",
                       lambda p: running(p) and p["MainPID"] != before["MainPID"], timeout=RESTART_S + 60)
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1


def test_a_broken_config_exits_2_once_and_is_not_restarted(booted):
    c, _ = booted
    c.wait_for("traycheck running", running, timeout=60)
    cfg = c.root / "etc/traycheck/config.yaml"
    good = cfg.read_text()
    cfg.write_text(good.replace("http:\n", "http:\n  api_token_file: /etc/traycheck/no-such-token\n"))
    try:
        c.ctl("systemctl", "restart", "traycheck.service", timeout=120)  # fails: that is the point
        failed = c.wait_for("traycheck failed", lambda p: p["ActiveState"] == "failed", timeout=60)
        assert failed["Result"] == "exit-code" and failed["ExecMainStatus"] == "2", failed
        # no restart loop: it stays failed through several RestartSec periods
        deadline = time.monotonic() + 3 * RESTART_S
        while time.monotonic() < deadline:
            now = c.show("ActiveState", "NRestarts")
            assert now == {"ActiveState": "failed", "NRestarts": failed["NRestarts"]}, now
            time.sleep(0.5)
        log = c.journal()
        errors = [line for line in log.splitlines() if "error: config" in line]
        assert len(errors) == 1 and "http.api_token_file: /etc/traycheck/no-such-token: not found" in errors[0], log
        assert "Traceback" not in log
    finally:
        cfg.write_text(good)


def test_bad_start_up_inputs_fail_the_unit_in_one_line_without_a_restart(booted):
    """Issue 25: an empty session key (the old code started with an empty signing key) and a config
    that is not UTF-8 (a traceback and exit 1: a restart loop) each end the unit failed with exit
    status 2, one line from the process in the journal, no restart scheduled."""
    c, _ = booted
    if c.show("ActiveState").get("ActiveState") != "active":  # the broken-config test before leaves it failed
        assert c.ctl("systemctl", "start", "traycheck.service", timeout=120).returncode == 0
    c.wait_for("traycheck running", running, timeout=60)
    key, cfg = c.root / "var/lib/traycheck/session-key", c.root / "etc/traycheck/config.yaml"
    good_key, good_cfg = key.read_bytes(), cfg.read_bytes()
    cases = [
        (lambda: key.write_bytes(b""),  # the write keeps the file's owner and mode
         "data_dir: /var/lib/traycheck/session-key: the dashboard session key is empty"),
        (lambda: cfg.write_bytes(good_cfg + b"# caf\xe9\n"), "not UTF-8 text"),
    ]
    try:
        for spoil, words in cases:
            assert c.ctl("systemctl", "stop", "traycheck.service", timeout=60).returncode == 0
            cursor = c.journal("-n", "1", "--show-cursor").strip().rpartition("-- cursor: ")[2]
            assert cursor, c.journal()[-2000:]
            spoil()
            c.ctl("systemctl", "start", "traycheck.service", timeout=120)  # fails: that is the point
            failed = c.wait_for(f"traycheck failed on {words!r}", lambda p: p["ActiveState"] == "failed", timeout=60)
            assert failed["Result"] == "exit-code" and failed["ExecMainStatus"] == "2", failed
            assert failed["NRestarts"] == "0", failed  # (a manual start resets the count; none since)
            deadline = time.monotonic() + 3 * RESTART_S  # and none later: it stays failed
            while time.monotonic() < deadline:
                now = c.show("ActiveState", "NRestarts")
                assert now == {"ActiveState": "failed", "NRestarts": failed["NRestarts"]}, now
                time.sleep(0.5)
            log = c.journal("--after-cursor", cursor)
            said = [line for line in log.splitlines() if " traycheck[" in line]  # the new process's own lines
            assert len(said) == 1 and "error: config /etc/traycheck/config.yaml: " in said[0] and words in said[0], log
            assert "Traceback" not in log and "Scheduled restart job" not in log, log
            key.write_bytes(good_key)
            cfg.write_bytes(good_cfg)
    finally:
        key.write_bytes(good_key)
        cfg.write_bytes(good_cfg)


def test_stop_within_10_s(booted):
    c, _ = booted
    if c.show("ActiveState").get("ActiveState") != "active":
        assert c.ctl("systemctl", "start", "traycheck.service", timeout=120).returncode == 0
    c.wait_for("traycheck running", running, timeout=60)
    t0 = time.monotonic()
    assert c.ctl("systemctl", "stop", "traycheck.service", timeout=60).returncode == 0
    took = time.monotonic() - t0
    props = c.show("ActiveState", "Result")
    assert props == {"ActiveState": "inactive", "Result": "success"}, props  # not killed at TimeoutStopSec
    assert took < 10, took
