"""Learning from the live box, end to end on real parts: a real replay of the lunch-rush
shift fills a data directory (clean zone snapshots, the detector's boxes in the
database); a manager flags a tray "counted wrong" over real HTTP (uvicorn on
loopback, CSRF, roles; the form itself in headless Chromium); ``traycheck data
export`` (a real subprocess) writes YOLO and COCO for a labelling tool, flagged
trays first, and leaves the database as it was."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import yaml

from conftest import FIXTURES, run_cli
from edge.store.db import MIGRATIONS, open_db, schema_version
from edge.store.snapshots import zone_boxes
from edge.store.store import Store
from edge.store.users import Users
from edge.web.app import create_app
from edge.web.dashboard import Dashboard
from edge.web.server import WebServer
from detectors.detections import Detections
from mqtt_helpers import free_port
from orders.menu import Menu

NOTE = "two sauces on the tray, counted one"
HTTP_TIMEOUT = 60  # a sign-in hashes with scrypt: slow on a loaded 2-core box


def db_digest(db_path: Path) -> str:
    """A checksum of every table's rows (and the schema): equal before and after means unchanged."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    h = hashlib.sha256()
    try:
        for (name, sql) in conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall():
            h.update(f"{name}:{sql}".encode())
            if sql and sql.startswith("CREATE TABLE"):
                for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):
                    h.update(repr(row).encode())
    finally:
        conn.close()
    return h.hexdigest()


def trays_in_db(db_path: Path) -> list[dict]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM trays ORDER BY created_at, id")]
    finally:
        conn.close()


def sign_in(base: str, name: str, password: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=base, follow_redirects=False, timeout=HTTP_TIMEOUT)
    assert c.post("/login", data={"name": name, "password": password, "next": "/trays"}).status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/trays").text).group(1)
    return c, csrf


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """A data directory filled by a real replay, served by the dashboard (as the appliance would be
    while someone exports)."""
    data = tmp_path_factory.mktemp("box")
    r = run_cli("replay", FIXTURES / "lunch-rush", "--data-dir", data, "--speed", "max",
                timeout=1800)  # ~25 s alone; much longer niced beside a training run
    assert r.returncode == 0, r.stderr
    store = Store(data / "traycheck.db", outbox=False)
    Users(store.db).add("vera", "viewer", "viewer-pw")
    Users(store.db).add("max", "manager", "manager-pw")
    port = free_port()
    app = create_app(store, "pos-token", Menu(), dashboard=Dashboard(store, data, site="test",
                                                                     snapshot_root=data / "snapshots"))
    web = WebServer(app, "127.0.0.1", port)
    web.start()
    yield {"data": data, "db": data / "traycheck.db", "base": f"http://127.0.0.1:{port}", "store": store}
    web.stop()
    store.close()


@pytest.fixture(scope="module")
def flagged(box) -> int:
    """The third tray of the shift, flagged "counted wrong" by a manager through the tray page's form."""
    tray = trays_in_db(box["db"])[2]
    c, csrf = sign_in(box["base"], "max", "manager-pw")
    r = c.post(f"/trays/{tray['id']}/flag", data={"csrf": csrf, "action": "flag", "note": NOTE})
    assert r.status_code == 303 and r.headers["location"] == f"/trays/{tray['id']}"
    return tray["id"]


def export(box, out: Path, *args: str):
    return run_cli("data", "export", "-o", out, "--data-dir", box["data"], *args)


def local_day(created_at: str) -> str:
    return datetime.fromisoformat(created_at).astimezone().strftime("%Y-%m-%d")


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
    audit = store.db.execute("SELECT actor, action, target, detail FROM audit WHERE target LIKE 'tray:%' "
                             "ORDER BY id").fetchall()
    assert audit == [("max", "flag counted wrong", f"tray:{flagged}", json.dumps({"note": NOTE})),
                     ("max", "flag counted wrong", f"tray:{other}", "{}"),
                     ("max", "unflag", f"tray:{other}", "{}")]


# -- export ----------------------------------------------------------------------------------------
def test_yolo_export_flagged_first_valid_labels_and_the_database_unchanged(box, flagged, tmp_path):
    from ultralytics.data.utils import check_det_dataset, verify_image_label

    trays = trays_in_db(box["db"])
    before = db_digest(box["db"])
    out = tmp_path / "yolo"
    r = export(box, out, "--since", local_day(trays[0]["created_at"]))
    assert r.returncode == 0, r.stderr
    assert db_digest(box["db"]) == before
    stored = {t["id"]: json.loads(t["boxes"]) for t in trays}
    per_class = Counter(b["classes"][x[4]] for b in stored.values() for x in b["boxes"])
    assert f"exported {len(trays)} trays (1 flagged)" in r.stdout
    assert "boxes per class: " + ", ".join(f"{n} {k}" for k, n in sorted(per_class.items())) in r.stdout

    names = (out / "obj.names").read_text().split()
    assert names == stored[trays[-1]["id"]]["classes"] == (out / "classes.txt").read_text().split()
    assert yaml.safe_load((out / "data.yaml").read_text())["names"] == dict(enumerate(names))
    assert check_det_dataset(str(out / "data.yaml"))["nc"] == len(names)

    images = sorted((out / "images").glob("*.jpg"))
    manifest = [json.loads(line) for line in (out / "trays.jsonl").read_text().splitlines()]
    assert len(images) == len(manifest) == len(trays)
    assert f"tray{flagged}" in images[0].name and "flagged" in images[0].name
    assert not any("flagged" in p.name for p in images[1:])
    assert manifest[0]["tray_id"] == flagged and manifest[0]["flagged"] and manifest[0]["note"] == NOTE
    assert [m["tray_id"] for m in manifest[1:]] == [t["id"] for t in trays if t["id"] != flagged]  # then oldest first
    for img, m in zip(images, manifest):
        assert m["image"] == f"images/{img.name}"
        label = out / "labels" / f"{img.stem}.txt"
        im_file, lb, shape, _, _, nm, nf, ne, nc, msg = verify_image_label(
            (str(img), str(label), "", False, len(names), 0, 0, False))
        assert (nm, nf, nc) == (0, 1, 0), msg  # found, not corrupt (ultralytics' own check)
        h, w = shape
        rows = [line.split() for line in label.read_text().splitlines()]
        assert len(rows) == len(stored[m["tray_id"]]["boxes"]) == len(lb)
        for k, cx, cy, bw, bh in rows:
            cx, cy, bw, bh = float(cx), float(cy), float(bw), float(bh)
            assert 0 <= int(k) < len(names) and bw > 0 and bh > 0
            assert -1e-6 <= (cx - bw / 2) * w and (cx + bw / 2) * w <= w + 1e-3  # inside the image, in pixels
            assert -1e-6 <= (cy - bh / 2) * h and (cy + bh / 2) * h <= h + 1e-3
        assert Counter(names[int(k)] for k, *_ in rows) == Counter(m["seen"])


def test_coco_export_and_flagged_only(box, flagged, tmp_path):
    trays = trays_in_db(box["db"])
    before = db_digest(box["db"])
    out = tmp_path / "coco"
    r = export(box, out, "--since", trays[0]["created_at"], "--format", "coco")
    assert r.returncode == 0, r.stderr
    coco = json.loads((out / "annotations.json").read_text())
    assert [c["name"] for c in coco["categories"]] == json.loads(trays[-1]["boxes"])["classes"]
    assert len(coco["images"]) == len(trays) and f"tray{flagged}" in coco["images"][0]["file_name"]
    assert not (out / "labels").exists()
    size = {}
    for im in coco["images"]:
        img = cv2.imread(str(out / "images" / im["file_name"]))
        assert (im["width"], im["height"]) == (img.shape[1], img.shape[0])
        size[im["id"]] = (im["width"], im["height"])
    cats = {c["id"] for c in coco["categories"]}
    assert len(coco["annotations"]) == sum(len(json.loads(t["boxes"])["boxes"]) for t in trays)
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        W, H = size[a["image_id"]]
        assert a["category_id"] in cats and w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= W + 0.1 \
            and y + h <= H + 0.1 and 0 < a["score"] <= 1
    assert len({a["id"] for a in coco["annotations"]}) == len(coco["annotations"])

    only = tmp_path / "flagged"
    r = export(box, only, "--since", trays[0]["created_at"], "--flagged-only")
    assert r.returncode == 0, r.stderr
    assert [p.name for p in (only / "images").iterdir()] == [f"{only_stem(only)}.jpg"]
    assert f"tray{flagged}" in only_stem(only) and "exported 1 trays (1 flagged)" in r.stdout
    assert db_digest(box["db"]) == before


def only_stem(out: Path) -> str:
    return next((out / "labels").iterdir()).stem


def test_since_and_until_filter_by_stored_time(box, flagged, tmp_path):
    trays = trays_in_db(box["db"])
    cut = trays[len(trays) // 2]["created_at"]  # ISO, UTC with Z: from this tray on
    r = export(box, tmp_path / "late", "--since", cut)
    assert r.returncode == 0, r.stderr
    late = [json.loads(x)["tray_id"] for x in (tmp_path / "late" / "trays.jsonl").read_text().splitlines()]
    assert sorted(late) == sorted(t["id"] for t in trays if t["created_at"] >= cut)
    assert flagged not in late  # the third tray is before the cut
    r = export(box, tmp_path / "early", "--since", trays[0]["created_at"], "--until", cut)
    assert r.returncode == 0, r.stderr
    early = [json.loads(x)["tray_id"] for x in (tmp_path / "early" / "trays.jsonl").read_text().splitlines()]
    assert early[0] == flagged and sorted(early) == sorted(t["id"] for t in trays if t["created_at"] < cut)
    # a local day for --until counts whole: the day of the last tray includes it
    r = export(box, tmp_path / "day", "--since", trays[0]["created_at"], "--until",
               local_day(trays[-1]["created_at"]))
    assert r.returncode == 0 and f"exported {len(trays)} trays" in r.stdout, r.stderr


def test_bad_input_is_one_line_and_exit_2(box, tmp_path):
    trays = trays_in_db(box["db"])
    before = db_digest(box["db"])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    future = datetime(2099, 1, 1, tzinfo=timezone.utc).isoformat()
    cases = [(["--since", "yesterday"], "--since 'yesterday'"),
             (["--since", "2026-02-30"], "--since '2026-02-30'"),
             (["--since", "2026-11-25", "--until", "11:00"], "--until '11:00'"),
             (["--since", trays[-1]["created_at"], "--until", trays[0]["created_at"]], "is not after --since"),
             (["--since", "2026-01-01", "--format", "voc"], "--format 'voc'"),
             (["--since", future], "no trays to export"),
             (["--since", "2026-01-01", "-o", busy], "not an empty folder")]
    for args, message in cases:
        out = tmp_path / "never"
        r = run_cli("data", "export", "-o", out, "--data-dir", box["data"], *args)
        err = r.stderr.strip()
        assert r.returncode == 2 and message in err and "\n" not in err and "Traceback" not in err, (args, err)
        assert not out.exists()
    assert (busy / "keep.txt").read_text() == "mine" and len(list(busy.iterdir())) == 1
    for args, message in [([], "either --config FILE or --data-dir DIR"),
                          (["--data-dir", tmp_path / "nowhere"], "no TrayCheck database")]:
        r = run_cli("data", "export", "-o", tmp_path / "never", "--since", "2026-01-01", *args)
        assert r.returncode == 2 and message in r.stderr and "\n" not in r.stderr.strip(), r.stderr
    assert db_digest(box["db"]) == before


# -- an older database ------------------------------------------------------------------------------
def test_an_old_database_is_upgraded_and_its_boxed_snapshots_left_out(tmp_path):
    path = tmp_path / "traycheck.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:  # a box that ran the schema of issue 5
        conn.executescript(script)
    conn.executescript("CREATE TABLE schema_version (version INTEGER NOT NULL); "
                       "INSERT INTO schema_version VALUES (2);")
    conn.execute("INSERT INTO trays (camera, run, seq, snapshot, created_at, updated_at) VALUES "
                 "('expo-1', 'r', 1, 'old/boxed.jpg', '2026-11-24T12:00:00.000000Z', '2026-11-24T12:00:00.000000Z')")
    conn.commit()
    conn.close()
    crop = np.full((120, 160, 3), 90, np.uint8)
    for rel in ("old/boxed.jpg", "new/clean.jpg"):
        (tmp_path / "snapshots" / rel).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(tmp_path / "snapshots" / rel), crop)

    r = run_cli("data", "export", "-o", tmp_path / "x", "--since", "2026-01-01", "--data-dir", tmp_path)
    assert r.returncode == 2 and "schema version 2" in r.stderr and not (tmp_path / "x").exists(), r.stderr
    db = open_db(path)  # what the service does at start
    assert schema_version(db) == len(MIGRATIONS) >= 3
    db.close()
    store = Store(path, outbox=False)
    dets = Detections(np.array([[110, 30, 150, 70], [0, 0, 5, 5]], np.float32), np.array([0.9, 0.8], np.float32),
                      np.array([1, 0], np.int64))
    boxes = zone_boxes(dets, (100, 20, 260, 140), ("burger", "fries"), "m.onnx")  # the 2nd box lies outside
    rec = {"id": "v-new", "camera": "expo-1", "verdict": "ok", "video_t": 1.0, "at": "2026-11-25T12:00:00Z",
           "tray": 2, "seen": {"fries": 1}, "expected": {"fries": 1}}
    assert store.record_verdict(rec, run="r", snapshot="new/clean.jpg", boxes=boxes)
    # a later verdict without a snapshot keeps the tray's snapshot and its boxes together
    assert store.record_verdict(dict(rec, id="v-later", video_t=2.0), run="r")
    assert store.db.execute("SELECT snapshot, boxes FROM trays WHERE seq = 2").fetchone() == \
        ("new/clean.jpg", json.dumps(boxes))
    store.close()
    r = run_cli("data", "export", "-o", tmp_path / "x", "--since", "2026-11-24", "--data-dir", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "exported 1 trays (0 flagged)" in r.stdout and "boxes per class: 1 fries" in r.stdout
    assert "left out 1 trays: stored before boxes were kept" in r.stdout
    assert (tmp_path / "x" / "labels").is_dir()
    (label,) = (tmp_path / "x" / "labels").iterdir()
    assert label.read_text() == "1 0.187500 0.250000 0.250000 0.333333\n"  # fries, in the 160x120 crop


# -- closing the loop: what we export, `data import` takes back ---------------------------------------
def test_a_yolo_export_imports_back(box, flagged, tmp_path):
    from edge.cli.data import data_app

    if "import" not in {c.name for c in data_app.registered_commands}:
        pytest.skip("`traycheck data import` is not in edge/cli_data.py yet (being written for issue 10)")
    trays = trays_in_db(box["db"])
    out, dataset = tmp_path / "yolo", tmp_path / "dataset"
    assert export(box, out, "--since", trays[0]["created_at"]).returncode == 0
    r = run_cli("data", "import", out, "-o", dataset, "--group-by", r"tray(\d+)")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["classes"] == (out / "obj.names").read_text().split()
    assert manifest["problems"] == [] and manifest["duplicates"] == []
    exported = {json.loads(x)["image"][len("images/"):]: json.loads(x)["seen"]
                for x in (out / "trays.jsonl").read_text().splitlines()}
    imported = {im["source"]: im["boxes"] for im in manifest["images"]}
    assert imported == exported  # every tray back, every box under its class
    assert len({im["group"] for im in manifest["images"]}) == len(trays)  # one group per tray: split by tray
    assert len(list((dataset / "images").rglob("*.jpg"))) == len(trays)


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
