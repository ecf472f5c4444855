"""The dashboard in headless Chromium (Debian's chromium, driven by Playwright) during a
real replay: sign in, watch the shift, see a mismatch banner appear within 0.5 s of its
verdict, acknowledge it, find the tray by order number, open the shift report.
Screenshots of every page at 1280x800 and 1920x1080 go to out/test-artifacts/dashboard/."""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT
from dashboard_helpers import start_replay_http

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "out" / "test-artifacts" / "dashboard"
VIEWPORTS = {"tablet": {"width": 1280, "height": 800}, "screen": {"width": 1920, "height": 1080}}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """`traycheck replay lunch-rush --http` at twice real time; yields (url, manager password)."""
    proc, url, password = start_replay_http(FIXTURES / "lunch-rush", tmp_path_factory.mktemp("dash"), "2")
    yield url, password
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    assert Path(CHROMIUM).exists(), "chromium is not installed (apt-get install chromium)"
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {label} ({overflow} px)"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(VIEWPORTS["tablet"])


def watch_console(page) -> list[str]:
    """Every console error, page error and CSP violation of ``page`` (the pages run under a strict CSP:
    an inline script or style left anywhere shows up here)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} ({m.location.get('url')})")
            if m.type == "error" or "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.add_init_script("""document.addEventListener('securitypolicyviolation', e => console.error(
        'CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile))""")
    return problems


def test_staff_watch_a_replayed_shift(replay, browser):
    url, password = replay
    page = browser.new_page(viewport=VIEWPORTS["tablet"])
    problems = watch_console(page)
    page.goto(f"{url}/alerts")
    assert "/login" in page.url  # not signed in: the sign-in page
    shoot(page, "login")
    page.fill("input[name=name]", "manager")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/alerts")

    page.goto(f"{url}/live")
    # record when each verdict's banner shows, against when the box decided it
    page.evaluate("""() => {
        window.__shown = [];
        const banner = document.querySelector('[data-role=banner]');
        new MutationObserver(() => {
            if (banner.dataset.verdictAt) window.__shown.push(
                {id: banner.dataset.verdictId, at: banner.dataset.verdictAt, cls: banner.className,
                 text: banner.textContent, shown: Date.now()});
        }).observe(banner, {attributes: true, childList: true, characterData: true, subtree: true});
    }""")
    page.wait_for_function("() => window.__shown.some(s => s.cls.includes('mismatch'))", timeout=120_000)
    shown = page.evaluate("window.__shown")
    mismatch = next(s for s in shown if "mismatch" in s["cls"])
    delay = mismatch["shown"] / 1000 - float(mismatch["at"])  # at_unix of the verdict record
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "banner-delay.json").write_text(json.dumps({"verdict": mismatch["id"], "delay_s": round(delay, 3)}))
    assert delay <= 0.5, f"banner {mismatch['text']!r} shown {delay:.3f} s after its verdict"
    assert re.search(r"MISSING|EXTRA|WRONG", mismatch["text"])
    shoot(page, "live-mismatch")

    page.goto(f"{url}/alerts")
    row = page.locator("tr.alert-row").first
    order = row.locator("td").nth(1).inner_text().strip().lstrip("#")
    shoot(page, "alerts")
    with page.expect_navigation():  # the acknowledgement is stored before its redirect answers (under a
        row.locator("button.ack").click()  # CPU hog, waiting on the URL alone raced the POST)
    page.goto(f"{url}/alerts?state=acknowledged")
    assert page.locator(f"tr.alert-row:has-text('#{order}')").count() >= 1
    assert "manager" in page.locator(f"tr.alert-row:has-text('#{order}')").first.inner_text()

    page.goto(f"{url}/trays")
    page.fill("input[name=q]", order)
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(rf".*/trays\?q={order}.*"))
    shoot(page, "trays-search")
    page.locator(f"a:has-text('#{order}')").first.click()
    page.wait_for_url(re.compile(r".*/trays/\d+$"))
    assert page.locator("img.snapshot").count() == 1
    assert page.locator("ol.timeline li").count() >= 2  # the mismatch and its acknowledgement
    assert page.evaluate("document.querySelector('img.snapshot').naturalWidth") > 0
    shoot(page, "tray")

    page.goto(f"{url}/report")
    trays = int(page.locator(".kpis b").first.inner_text())
    assert trays >= 1
    assert page.locator("svg.chart").count() >= 2
    shoot(page, "report")
    with page.expect_download() as dl:
        page.click("text=Download CSV")
    assert dl.value.suggested_filename.endswith(".csv")

    for name in ("orders", "system", "docs"):
        page.goto(f"{url}/{name}")
        assert page.locator("h1").count() == 1
        shoot(page, name)
    page.goto(f"{url}/system")
    assert page.locator("table.sessions td:has-text('this browser')").count() == 1
    assert page.locator("th:has-text('dropped frames')").count() == 1  # per camera: frames dropped while behind
    # the active model's own figures (the bundled one: measured on rendered trays, no count accuracy)
    assert "INT8 mAP50" in page.locator("tr:has(th:text-is('model figures')) td").inner_text()
    page.click("form.end-all button")  # sign out everywhere: back to the sign-in page, the session gone
    page.wait_for_url(re.compile(r".*/login.*"))
    page.goto(f"{url}/live")
    assert "/login" in page.url
    page.close()
    assert not problems, "\n".join(problems)


def test_a_csp_violation_is_caught(replay, browser):
    """The console watch is not blind: an inline script on a dashboard page is blocked and reported."""
    url, _ = replay
    page = browser.new_page()
    problems = watch_console(page)
    page.goto(f"{url}/login")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';
                             document.body.appendChild(s); }""")
    deadline = time.monotonic() + 5
    while not any("CSP violation" in p or "Content Security Policy" in p for p in problems):
        assert time.monotonic() < deadline, f"no CSP report: {problems}"
        page.wait_for_timeout(50)  # lets Playwright deliver the console events
    assert page.evaluate("window.x") is None  # the inline script did not run
    page.close()
