"""Flagging trays on the live box (part of learning from it, end to end on real parts: a real replay of the lunch-rush
shift fills a data directory (clean zone snapshots, the detector's boxes in the
database); a manager flags a tray "counted wrong" over real HTTP (uvicorn on
loopback, CSRF, roles; the form itself in headless Chromium); the
export itself is in test_data_export.py."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest


from box_helpers import NOTE, HTTP_TIMEOUT, sign_in, trays_in_db  # noqa: F401 (flagged: fixtures)



# -- what the replay stored ------------------------------------------------------------------------
def test_snapshots_are_clean_with_boxes_in_the_database_and_the_dashboard_draws_them(box):
    trays = trays_in_db(box["db"])
    assert len(trays) >= 10
    for t in trays:
        boxes = json.loads(t["boxes"])
        assert boxes["classes"] and boxes["model"].endswith(".onnx")
        counted = Counter(boxes["classes"][b[4]] for b in boxes["boxes"])
        assert dict(counted) == json.loads(t["seen"]), t["id"]  # the boxes are the ones the verdict counted
        img = cv2.imread(str(box["data"] / "snapshots" / t["snapshot"]))
        assert list(img.shape[1::-1]) == boxes["size"]
    # the file is clean; the dashboard serves it with the boxes drawn (yellow outlines)
    t = trays[0]
    clean = cv2.imread(str(box["data"] / "snapshots" / t["snapshot"]))
    c, _ = sign_in(box["base"], "vera", "viewer-pw")
    r = c.get(f"/snapshots/{t['id']}.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    served = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert served.shape == clean.shape

    x0, y0, x1, y1 = (int(v) for v in json.loads(t["boxes"])["boxes"][0][:4])
    top = (slice(y0, y0 + 1), slice(x0 + 3, x1 - 3))  # the top side of the first box
    outline = np.array([0, 220, 255])  # BGR of the dashboard's boxes
    assert np.abs(served[top].astype(int) - outline).mean() < 40 < np.abs(clean[top].astype(int) - outline).mean()


# -- flagging on the dashboard -----------------------------------------------------------------------
def test_a_manager_flags_and_unflags_a_tray_viewers_cannot(box, flagged):
    base, store = box["base"], box["store"]
    other = trays_in_db(box["db"])[5]["id"]
    before = store.db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]
    viewer, vcsrf = sign_in(base, "vera", "viewer-pw")
    assert viewer.post(f"/trays/{other}/flag", data={"csrf": vcsrf, "note": "x"}).status_code == 403
    manager, csrf = sign_in(base, "max", "manager-pw")
    assert manager.post(f"/trays/{other}/flag", data={"note": "x"}).status_code == 403  # no CSRF token
    with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as anonymous:
        assert anonymous.post(f"/trays/{other}/flag", data={"csrf": csrf}).status_code == 401
    assert store.db.execute("SELECT flagged_at FROM trays WHERE id = ?", [other]).fetchone()[0] is None
    assert manager.post("/trays/999999/flag", data={"csrf": csrf}).status_code == 404
    assert manager.post(f"/trays/{other}/flag", data={"csrf": csrf, "note": "n" * 501}).status_code == 422

    # the tray flagged by the fixture: on its page with the note, and marked in the list
    page = viewer.get(f"/trays/{flagged}").text
    assert "counted wrong" in page and NOTE in page and "flagged by max" in page
    assert 'action="/trays/' not in page  # viewers get no flag form
    listing = viewer.get("/trays").text
    row = next(r for r in listing.split("<tr") if f'href="/trays/{flagged}"' in r)
    assert 'class="flagged"' in row and "counted wrong" in row
    assert sum("tag flag" in r for r in listing.split("<tr")) == 1

    r = manager.post(f"/trays/{other}/flag", data={"csrf": csrf, "action": "flag"},
                     headers={"accept": "application/json"})
    assert r.status_code == 200 and r.json()["flagged"] and r.json()["by"] == "max"
    assert f'action="/trays/{other}/flag"' in manager.get(f"/trays/{other}").text
    assert "Remove" in manager.get(f"/trays/{other}").text
    r = manager.post(f"/trays/{other}/flag", data={"csrf": csrf, "action": "unflag"})
    assert r.status_code == 303
    assert "counted wrong</span> flagged" not in manager.get(f"/trays/{other}").text
    assert store.db.execute("SELECT flagged_at, flagged_by, flag_note FROM trays WHERE id = ?",
                            [other]).fetchone() == (None, None, None)
    # the fixture's row, then every tray row this test wrote: the box is shared by the session, and the
    # Chromium test below (another tray) may run first when the tests run out of order (xdist worksteal)
    audit = store.db.execute("SELECT actor, action, target, detail FROM audit WHERE (target = ? AND id <= ?) "
                             "OR (target LIKE 'tray:%' AND id > ?) ORDER BY id",
                             [f"tray:{flagged}", before, before]).fetchall()
    assert audit == [("max", "flag counted wrong", f"tray:{flagged}", json.dumps({"note": NOTE})),
                     ("max", "flag counted wrong", f"tray:{other}", "{}"),
                     ("max", "unflag", f"tray:{other}", "{}")]


# -- the flag form in a real browser --------------------------------------------------------------------
def test_the_flag_form_in_chromium(box, flagged):
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), "chromium is not installed (apt-get install chromium)"
    tray = trays_in_db(box["db"])[7]["id"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(120_000)  # a loaded 2-core box
        page.goto(f"{box['base']}/trays/{tray}")
        page.fill("input[name=name]", "max")
        page.fill("input[name=password]", "manager-pw")
        page.click("button[type=submit]")
        page.wait_for_url(f"{box['base']}/trays/{tray}")
        page.wait_for_function("() => document.querySelector('img.snapshot').complete")
        assert page.evaluate("document.querySelector('img.snapshot').naturalWidth") > 0  # boxes drawn, a real JPEG
        page.fill("form.flag-form input[name=note]", "fries hidden under the wrap")
        page.click("form.flag-form button.flag")
        page.wait_for_selector("p.flagged")
        assert "fries hidden under the wrap" in page.inner_text("p.flagged")
        page.goto(f"{box['base']}/trays")
        assert page.locator(f"tr.flagged a[href='/trays/{tray}']").count() == 1
        page.goto(f"{box['base']}/trays/{tray}")
        page.click("form.flag-form button.unflag")
        page.wait_for_selector("form.flag-form button.flag")
        assert page.locator("p.flagged").count() == 0
        browser.close()
    assert box["store"].db.execute("SELECT flagged_at FROM trays WHERE id = ?", [tray]).fetchone()[0] is None
