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
