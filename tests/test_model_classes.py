"""Classes come from the model: a model whose classes are not the demo ten, with a menu of
its own, works end to end (replay, verdicts, MQTT, dashboard, the service), and a menu
naming a class the model lacks is refused with its key path (at start and on SIGHUP)."""
from __future__ import annotations

from edge.errors import InvalidInput
import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from detectors.classes import CLASSES
from orders.menu import load_menu
from tests.conftest import FIXTURES, ROOT, wait_http_ok
from tests.model_family import RENAMED, RENAMED_MENU, make_family, renamed_classes
from tests.mqtt_helpers import Collector, free_port

NEW = set(RENAMED.values())


@pytest.fixture
def site_model(tmp_path: Path) -> tuple[Path, Path]:
    """(model file with renamed classes, a menu on those classes without the default SKUs)."""
    model = make_family(tmp_path / "models", "site-menu", renamed_classes(), int8=False)
    menu = tmp_path / "site-menu.yaml"
    menu.write_text(RENAMED_MENU)
    return model, menu


def names_in(records: list[dict]) -> set[str]:
    return {c for r in records for key in ("seen", "expected", "missing", "extra") for c in r.get(key, {})}


# -- the menu against a class list ---------------------------------------------------------
def test_menu_is_checked_against_the_given_classes(tmp_path):
    own = tmp_path / "own.yaml"
    own.write_text("include_default: false\nskus:\n  VEGGIE_WRAP: [soda, falafel_wrap]\n  NAPKINS: []\n")
    menu = load_menu(own, classes=renamed_classes(), model="model site-menu")
    assert set(menu.skus) == {"VEGGIE_WRAP", "NAPKINS"} and "BURGER" not in menu
    with pytest.raises(InvalidInput) as err:
        load_menu(own, classes=CLASSES, model="model traycheck-v8n")
    msg = str(err.value)
    assert msg.startswith(f"menu file {own}: skus.VEGGIE_WRAP[0]: visual class 'soda' is not one of "
                          "model traycheck-v8n's classes (burger, cheeseburger,"), msg
    assert "include_default" not in msg  # the file's own SKU: no hint about the defaults

    added = tmp_path / "added.yaml"  # include_default left out: the demo SKUs come along
    added.write_text("skus:\n  VEGGIE_WRAP: [falafel_wrap]\n")
    with pytest.raises(InvalidInput, match=r"skus\.BURGER\[0\]: visual class 'burger' is not one of model "
                                        r"site-menu's classes .*include_default: false"):
        load_menu(added, classes=renamed_classes(), model="model site-menu")
    with pytest.raises(InvalidInput, match=r"^default menu: skus\.BURGER\[0\]: .*include_default: false"):
        load_menu("default", classes=renamed_classes(), model="model site-menu")
    assert "BURGER" in load_menu(added)  # no class list given: only the file's shape is checked


@pytest.mark.parametrize("text,match", [
    ("include_default: no-thanks\nskus: {A: [soda]}\n", "include_default: expected true or false"),
    ("include_default: false\nskus: {}\n", "skus: no SKUs"),
    ("skus: {A: [soda]}\nmodel: x\n", "model: unknown key"),
    ("skus: {A: [3]}\n", r"skus\.A\[0\]: expected a visual class name"),
])
def test_bad_menu_keys(tmp_path, text, match):
    p = tmp_path / "menu.yaml"
    p.write_text(text)
    with pytest.raises(InvalidInput, match=match):
        load_menu(p)


# -- replay, MQTT and the dashboard with the model's classes -------------------------------
def test_replay_verdicts_mqtt_and_dashboard_use_the_model_classes(tmp_path, site_model, small_scenario, broker, cli):
    model, menu = site_model
    refused = cli("replay", small_scenario, "--model", model, "--speed", "max")
    assert refused.returncode == 2
    assert "default menu: skus.BURGER[0]: visual class 'burger' is not one of model site-menu's" \
           in refused.stderr and "include_default: false" in refused.stderr and "--menu" in refused.stderr
    assert "Traceback" not in refused.stderr

    sub = Collector(broker.port)
    port = free_port()
    data, verdicts = tmp_path / "data", tmp_path / "v.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "edge", "replay", str(small_scenario), "--model", str(model),
                             "--menu", str(menu), "--speed", "0.5", "--verdicts", str(verdicts),
                             "--data-dir", str(data), "--mqtt", f"mqtt://127.0.0.1:{broker.port}", "--site", "s1",
                             "--http", f"127.0.0.1:{port}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = collect_lines(proc)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{base}/healthz", proc, "replay did not serve HTTP", timeout=300)
        password = next((Path(m.group(1)).read_text().strip() for line in list(lines)
                         if (m := re.search(r"user 'manager'; its password is in (\S+)", line))), None)
        assert password, "".join(lines)
        with httpx.Client(base_url=base, timeout=5) as c:
            assert c.post("/login", data={"name": "manager", "password": password}).status_code == 303
            system = c.get("/system").text
            assert "site-menu.onnx" in system
            metrics = c.get("/metrics")  # a replay serves what `run` serves: it is the same wiring
            assert metrics.status_code == 200 and 'traycheck_frames_total{camera="expo-1"}' in metrics.text
            assert "cameras" in c.get("/readyz").json()
            deadline = time.monotonic() + 300
            page = ""
            while not re.search(r"\d+ (dip|smashburger|wedges|soda)", page):  # a stored tray's seen items
                assert time.monotonic() < deadline and proc.poll() is None, "no tray on the dashboard: " + page
                page = c.get("/trays").text
                time.sleep(0.3)
            tray_id = re.search(r'href="/trays/(\d+)"', page).group(1)
            detail = c.get(f"/trays/{tray_id}").text
            assert any(n in detail for n in NEW) and not re.search(r"\b(burger|fries|drink|sauce)\b", detail)
        assert proc.wait(timeout=600) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
    records = [json.loads(line) for line in verdicts.read_text().splitlines()]
    assert names_in(records) and names_in(records) <= NEW, names_in(records)
    first = next(r for r in records if r["order_id"] == "1042")  # placed 1 of 2 sauces: one dip missing
    assert first["verdict"] == "mismatch" and first["missing"] == {"dip": 1}
    assert any(r["verdict"] == "resolved" and r["order_id"] == "1042" for r in records)
    sent = sub.wait_for(len(records), "/verdict")
    sub.stop()
    assert len(sent) == len(records) and names_in(sent) <= NEW and {"dip"} <= names_in(sent)
    db = sqlite3.connect(data / "traycheck.db")
    seen = {k for (s,) in db.execute("SELECT seen FROM trays") for k in json.loads(s)}
    assert seen and seen <= NEW


# -- the service ---------------------------------------------------------------------------
CONFIG = """\
site: t1
data_dir: {data}
menu: {menu}
cameras:
  - name: expo-1
    source: {src}
    speed: null
detector: {{model: {model}}}
http: {{listen: "127.0.0.1:{port}", api_token: tok}}
retention: {{days: 30, min_free_mb: 0}}
"""


def test_run_and_config_check_refuse_a_menu_naming_a_class_the_model_lacks(tmp_path, site_model, cli):
    model, menu = site_model
    bad = tmp_path / "bad-menu.yaml"
    bad.write_text("include_default: false\nskus:\n  WRAP: [falafel_wrap]\n  KIDS_MEAL: [tenders, burger]\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(data=tmp_path / "data", menu=bad, src=FIXTURES / "lunch-rush", model=model,
                                 port=free_port()))
    expect = (f"config {cfg}: menu: menu file {bad}: skus.KIDS_MEAL[1]: visual class 'burger' is not one of "
              "model site-menu's classes (smashburger,")
    for args in (("run", "--config", cfg), ("config", "check", cfg)):
        proc = cli(*args, timeout=120)
        assert proc.returncode == 2, (args, proc.stderr)
        assert expect in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "data" / "traycheck.db").exists()  # refused before anything was opened
    doctor = cli("doctor", "--config", cfg, timeout=120)
    assert doctor.returncode == 1 and "skus.KIDS_MEAL[1]" in doctor.stderr.replace("\n", "")

    cfg.write_text(cfg.read_text().replace(str(bad), str(menu)))
    ok = cli("config", "check", cfg, timeout=120)
    assert ok.returncode == 0 and "model site-menu (detector.model, 10 classes), menu of 16 SKUs" in ok.stderr


def test_sighup_refuses_a_bad_menu_and_keeps_checking_with_the_old_one(tmp_path, site_model):
    model, menu = site_model
    port = free_port()
    cfg = tmp_path / "c.yaml"
    data = tmp_path / "data"
    good = CONFIG.format(data=data, menu=menu, src=FIXTURES / "lunch-rush", model=model, port=port)
    cfg.write_text(good)
    proc = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = collect_lines(proc)
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", proc, "service did not get ready", timeout=300)
        n0 = wait_verdicts(data, 1, proc)
        bad = tmp_path / "bad-menu.yaml"
        bad.write_text(RENAMED_MENU + "  DOUBLE: [burger, burger]\n")
        cfg.write_text(good.replace(str(menu), str(bad)))
        proc.send_signal(signal.SIGHUP)
        line = wait_line(lines, "reload refused", proc)
        assert f"menu file {bad}: skus.DOUBLE[0]: visual class 'burger' is not one of model site-menu's" in line
        wait_verdicts(data, n0 + 2, proc)  # still checking trays, with the old menu
        with sqlite3.connect(data / "traycheck.db") as db:
            seen = {k for (s,) in db.execute("SELECT seen FROM trays") for k in json.loads(s)}
        assert seen and seen <= NEW
        assert not any("Traceback" in x for x in lines), "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def collect_lines(proc: subprocess.Popen) -> list[str]:
    """The process's output lines, appended by a reader thread as they come."""
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def wait_verdicts(data: Path, n: int, proc: subprocess.Popen, timeout: float = 600) -> int:
    """Wait until the service's database holds at least ``n`` verdicts; the count."""
    deadline = time.monotonic() + timeout
    while True:
        count = 0
        if (data / "traycheck.db").exists():
            with sqlite3.connect(data / "traycheck.db", timeout=5) as db:
                try:
                    count = db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
                except sqlite3.OperationalError:  # the schema is not there yet
                    pass
        if count >= n:
            return count
        assert time.monotonic() < deadline and proc.poll() is None, f"{count} verdicts, waited for {n}"
        time.sleep(0.3)


def wait_line(lines: list[str], text: str, proc: subprocess.Popen, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while True:
        hit = next((x for x in list(lines) if text in x), None)
        if hit:
            return hit
        assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
        time.sleep(0.2)
