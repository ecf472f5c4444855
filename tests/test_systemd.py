"""The systemd unit: verify clean, sandboxing exposure 2.0 or lower."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

UNIT = ROOT / "systemd" / "traycheck.service"
pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")


def test_unit_verifies_clean(tmp_path):
    # the unit names the installed binary; point it at an executable that exists here
    exe = tmp_path / "traycheck"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    unit = tmp_path / "traycheck.service"
    unit.write_text(UNIT.read_text().replace("/opt/traycheck/venv/bin/traycheck", str(exe)))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def test_security_exposure_is_ok():
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for traycheck.service: ([0-9.]+)", r.stdout + r.stderr)
    assert m, r.stdout[-500:]
    assert float(m.group(1)) <= 2.0


def _directive(name: str) -> str:
    values = [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(name + "=")]
    assert len(values) == 1, (name, values)
    return values[0]


def test_start_up_errors_are_not_restarted_and_directories_match_the_installer():
    """Exit status 2 (a start-up error: one line in the journal) is not restarted; the modes the
    unit expects are those install.sh makes (else systemd warns at every start); /proc/cpuinfo
    stays readable (onnxruntime reads it: no ProcSubset=pid)."""
    assert _directive("RestartPreventExitStatus") == "2" and _directive("Restart") == "on-failure"
    install = (ROOT / "deploy" / "install.sh").read_text()
    assert f'install -d -m {_directive("ConfigurationDirectoryMode")} -o root -g traycheck "$ETC"' in install
    assert f'install -d -m {_directive("StateDirectoryMode")} -o traycheck -g traycheck "$STATE"' in install
    assert not any(line.startswith("ProcSubset=") for line in UNIT.read_text().splitlines())
