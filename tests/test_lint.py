"""The code passes the project's static checks: ruff, mypy, the import rules (all in pyproject.toml) and vulture."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def _tool(name: str, fallback: list[str]) -> list[str]:
    """The venv's console script (this checkout's or the running interpreter's), else ``fallback``."""
    for bin_dir in (ROOT / ".venv" / "bin", Path(sys.executable).parent):
        exe = shutil.which(name, path=str(bin_dir))
        if exe:
            return [exe]
    return fallback


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    # this tree first on the path: an editable install of another checkout must not be the one checked
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.quick  # seconds; mypy and import-linter take minutes: the whole suite only
def test_ruff_is_clean():
    r = _run([*_tool("ruff", [sys.executable, "-m", "ruff"]), "check", "edge", "detectors", "orders", "tests"])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]


def test_mypy_is_clean():
    """[tool.mypy]: strict for edge.pipeline, orders and detectors.detections, the defaults elsewhere."""
    r = _run([*_tool("mypy", [sys.executable, "-m", "mypy"])])  # the packages to check are in the config
    assert r.returncode == 0 and "Success: no issues found" in r.stdout, r.stdout[-4000:] + r.stderr[-1000:]


def test_imports_follow_the_layers():
    """[tool.importlinter]: layers only point down, libraries import only edge.core, no cycles."""
    cmd = _tool("lint-imports", [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                                                       "sys.exit(lint_imports_command())"])
    r = _run([*cmd, "--no-logo", "--no-cache"])
    assert "Contracts:" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]  # it ran, and read the contracts
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-1000:]


def test_vulture_finds_no_dead_code():
    """vulture at 80 % confidence (unused imports, variables, unreachable code) over the packages;
    the few names a library's callback signature fixes are in tests/vulture_whitelist.py, each with why."""
    cmd = _tool("vulture", [sys.executable, "-m", "vulture"])
    r = _run([*cmd, "edge", "detectors", "orders", "tests/vulture_whitelist.py", "--min-confidence", "80"])
    assert r.returncode == 0 and not r.stdout.strip(), r.stdout[-3000:] + r.stderr[-1000:]
