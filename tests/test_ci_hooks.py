"""The CI=true hooks (tests/ci_hooks.py) on throw-away test files: a skip fails the run under CI=true and
only there, and the run's last line counts what ran, so a CI log shows "0 skipped" itself."""
from __future__ import annotations

import tomllib

import pytest

from conftest import ROOT

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.quick

TESTS = """
import pytest

def test_passes():
    assert True

def test_skips():
    pytest.skip("no broker here")

@pytest.mark.xfail(reason="known", strict=True)
def test_known_bug():
    assert False
"""


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    def go(ci: str | None, source: str = TESTS) -> pytest.RunResult:
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        pytester.makepyfile(test_sample=source)
        return pytester.runpytest("-p", "ci_hooks", "-ra")
    return go


def test_without_ci_a_skip_is_a_skip_and_no_counts_line(run):
    result = run(None)
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    assert result.ret == 0
    assert not any(line.startswith("CI:") for line in result.outlines)


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_under_ci_a_skip_fails_the_run_and_the_last_line_says_so(run, ci):
    result = run(ci)
    result.assert_outcomes(passed=1, failed=1, xfailed=1)  # the xfail is a known bug, not a skip
    assert result.ret == 1
    assert result.outlines[-1] == "CI: 1 passed, 1 failed, 0 errors, 0 skipped, 1 xfailed (1 failure is a skip)"
    result.stdout.fnmatch_lines(["*skipped under CI=true (a component is missing?): *no broker here*"])


def test_under_ci_a_clean_run_ends_with_its_counts(run):
    result = run("true", "def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    assert result.ret == 0
    assert result.outlines[-1] == "CI: 2 passed, 0 failed, 0 errors, 0 skipped"


def test_ci_false_is_not_ci(run):
    result = run("false")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)


def test_the_summary_lists_every_skip_and_failure_reason():
    """``-ra`` in addopts: the short summary names each skipped/failed test and why."""
    opts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "-ra" in opts["addopts"].split()
