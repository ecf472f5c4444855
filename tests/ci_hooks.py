"""What ``CI=true`` changes in a pytest run (conftest.py imports these hooks; tests/test_ci_hooks.py
runs them on throw-away test files): a skip is a failure, and the run ends with one line of counts,
``CI: N passed, F failed, E errors, 0 skipped``, so the log itself shows that nothing was left out."""
from __future__ import annotations

import os

import pytest

SKIP_FAILED = "skipped under CI=true (a component is missing?): "
EXTRA_KINDS = ("xfailed", "xpassed", "deselected")  # shown when there are any


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CI=true`` a skip (a component missing: a tmpfs that cannot be mounted, no ffmpeg, no
    broker...) is a failure: CI installs everything, so a skip there means a test silently did not run."""
    outcome = yield
    report = outcome.get_result()
    if under_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = SKIP_FAILED + reason


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    """The counts line under ``CI=true``. A wrapper that runs first ends last: it is printed after
    pytest's own summary line (the terminal reporter prints that in its own, inner, wrapper)."""
    result = yield
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if under_ci() and reporter is not None:
        reporter.write_line(ci_line(reporter.stats))
    return result


def ci_line(stats: dict[str, list]) -> str:
    """``CI: 3 passed, 1 failed, 0 errors, 0 skipped (1 failure is a skip)``, counted as pytest counts."""
    def count(kind: str) -> int:
        return sum(1 for r in stats.get(kind, ()) if getattr(r, "count_towards_summary", True))

    parts = [f"{count(k)} {k}" for k in ("passed", "failed")]
    parts += [f"{count('error')} errors", f"{count('skipped')} skipped"]
    parts += [f"{count(k)} {k}" for k in EXTRA_KINDS if count(k)]
    skips = sum(1 for r in stats.get("failed", ()) if str(getattr(r, "longrepr", "")).startswith(SKIP_FAILED))
    note = f" ({skips} {'failure is a skip' if skips == 1 else 'failures are skips'})" if skips else ""
    return "CI: " + ", ".join(parts) + note
