"""The camera health banner in headless Chromium: a replayed station whose view is covered
for 20 s (a real service, the shift's H.264 video as its camera) shows the red banner on
the live view and the system page, and both clear by themselves when the view is back."""
from __future__ import annotations

import re
import time

import pytest

from dashboard_helpers import start_replay_http
from health_helpers import write_fault_shift
from test_dashboard_browser import VIEWPORTS, browser, shoot, watch_console  # noqa: F401 - (browser: a fixture)

pytestmark = pytest.mark.slow
COVER = (12.0, 40.0)  # stream seconds
SPEED = 1.0


@pytest.fixture(scope="module")
def covered_replay(tmp_path_factory):
    """`traycheck replay SHIFT --http` of the covered station; yields (url, manager password, started)."""
    tmp = tmp_path_factory.mktemp("health")
    shift = write_fault_shift(tmp / "covered", *COVER, end=75.0)
    proc, url, password = start_replay_http(shift, tmp / "data", str(SPEED))
    yield url, password, time.monotonic()
    proc.terminate()
    proc.wait(timeout=20)


def test_a_covered_camera_shows_the_banner_and_it_clears(covered_replay, browser):  # noqa: F811
    url, password, _ = covered_replay
    ctx = browser.new_context(viewport=VIEWPORTS["tablet"])  # one sign-in for the live view and the system page
    page = ctx.new_page()
    problems = watch_console(page)
    page.goto(f"{url}/live")
    page.fill("input[name=name]", "manager")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/live"))
    health = page.locator("[data-role=health]")
    assert health.is_hidden()  # the view is fine before the cover
    # the fault persists ~8 s of stream before it is raised
    page.wait_for_function("() => !document.querySelector('[data-role=health]').hidden", timeout=60_000)
    text = health.inner_text()
    assert "cannot check trays" in text and "covered" in text and "% of the view is uniform" in text
    assert "camera-health fault" == health.get_attribute("class")
    assert page.evaluate("getComputedStyle(document.querySelector('[data-role=health]')).backgroundColor") \
        == "rgb(185, 28, 28)"  # red
    shoot(page, "live-camera-covered")

    system = ctx.new_page()
    system.goto(f"{url}/system")  # (rendered on the server: reloaded until the page says it)
    deadline = time.monotonic() + 20
    while system.locator("p[data-role=health]").count() == 0 and time.monotonic() < deadline:
        system.reload()
    assert "covered" in system.locator("p[data-role=health]").inner_text()
    assert system.locator("[data-role=refresh-reference]").count() == 1  # managers may re-learn the view
    shoot(system, "system-camera-covered")

    # the cover ends at 40 s of stream; cleared after ~4 s of good view
    page.wait_for_function("() => document.querySelector('[data-role=health]').hidden", timeout=60_000)
    system.reload()
    assert system.locator("p[data-role=health]").count() == 0
    assert "all checks ok" in system.locator("table.list").first.inner_text()
    system.click("[data-role=refresh-reference]")
    system.wait_for_url(f"{url}/system")
    assert system.locator("p[data-role=health]").count() == 0
    assert problems == []
