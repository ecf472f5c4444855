"""``traycheck model install`` / ``rollback`` and the running service switching models on
SIGHUP without losing a verdict; a model that cannot serve the menu is refused by install
and, if forced into place by hand, by the service."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from detectors.model_info import MODELS_DIR, load_metadata
from edge.replay.runner import prepare, replay_folder
from detectors.loader import load_detector
from orders.menu import load_menu
from tests.conftest import FIXTURES, ROOT, wait_http_ok
from tests.model_family import RENAMED_MENU, make_family, renamed_classes
from tests.mqtt_helpers import free_port
from tests.test_model_classes import collect_lines, wait_line, wait_verdicts

CONFIG = """\
site: t1
data_dir: {data}
cameras:
  - name: expo-1
    source: {src}
    speed: null
http: {{listen: "127.0.0.1:{port}", api_token: tok}}
retention: {{days: 30, min_free_mb: 0}}
"""


def pointer(data: Path) -> dict:
    return json.loads((data / "models" / "active.json").read_text())


def one_line_error(proc: subprocess.CompletedProcess, *parts: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for part in parts:
        assert part in proc.stderr, (part, proc.stderr)


def test_install_refuses_a_model_that_would_fail_orders_unless_forced(tmp_path, cli):
    """The guard before service: a family whose own figures count fewer validation photos right than
    detector.min_count_accuracy (default 0.80), or that has no such figures, is refused with its figures
    and nothing changes; --force installs it and says so; a configured floor moves the line."""
    data = tmp_path / "data"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(data=data, src=FIXTURES / "lunch-rush", port=8080))
    make_family(tmp_path / "weak", "weak", count_accuracy=0.558)
    one_line_error(cli("model", "install", tmp_path / "weak", "--config", cfg),
                   "model weak counts 55.8% of its 40 validation photos right, below the floor of 80%",
                   "detector.min_count_accuracy", "--force")
    make_family(tmp_path / "unmeasured", "unmeasured", count_accuracy=None)
    one_line_error(cli("model", "install", tmp_path / "unmeasured", "--config", cfg),
                   "has no count accuracy on its own validation photos")
    assert not (data / "models").exists()
    ok = cli("model", "install", tmp_path / "weak", "--config", cfg, "--force")
    assert ok.returncode == 0, ok.stderr
    assert "below the floor, installed with --force" in " ".join((ok.stderr + ok.stdout).split())
    assert pointer(data)["name"] == "weak"
    cfg.write_text(cfg.read_text() + "detector: {min_count_accuracy: 0.5}\n")
    make_family(tmp_path / "ok", "fine", count_accuracy=0.6)
    ok = cli("model", "install", tmp_path / "ok", "--config", cfg)
    assert ok.returncode == 0 and "counts 60.0% of its 40 validation photos right" in " ".join(
        (ok.stderr + ok.stdout).split()), ok.stderr


def test_install_checks_first_copies_points_and_rolls_back(tmp_path, cli):
    data = tmp_path / "data"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(data=data, src=FIXTURES / "lunch-rush", port=8080))
    models = data / "models"

    # refused, and nothing changes: a missing file, bad metadata, a broken ONNX file, classes not covering the menu
    make_family(tmp_path / "no-int8", "half", int8=False)
    one_line_error(cli("model", "install", tmp_path / "no-int8" / "half", "--config", cfg),
                   "half.int8.onnx is missing")
    make_family(tmp_path / "bad-json", "meta").with_suffix(".json").write_text("{")
    one_line_error(cli("model", "install", tmp_path / "bad-json" / "meta.onnx", "--config", cfg),
                   "meta.json: unreadable")
    (tmp_path / "broken" / "x.int8.onnx").parent.mkdir()
    make_family(tmp_path / "broken", "x")
    (tmp_path / "broken" / "x.int8.onnx").write_bytes(b"not a model")
    one_line_error(cli("model", "install", tmp_path / "broken", "--config", cfg),
                   "x.int8.onnx: ONNX Runtime cannot load it")
    make_family(tmp_path / "renamed", "site-menu", renamed_classes())
    one_line_error(cli("model", "install", tmp_path / "renamed", "--config", cfg),
                   "default menu: skus.BURGER[0]: visual class 'burger' is not one of model site-menu's classes",
                   "include_default: false")
    one_line_error(cli("model", "install", tmp_path / "nowhere" / "m", "--config", cfg), "no such model file")
    assert not models.exists()
    one_line_error(cli("model", "rollback", "--config", cfg), "nothing to roll back to")

    # DIR/NAME, a folder with one family, a file of a family
    src = tmp_path / "src"
    make_family(src, "site-a")
    make_family(src, "site-b")
    one_line_error(cli("model", "install", src, "--config", cfg), "several model families (site-a, site-b)")
    ok = cli("model", "install", src / "site-a", "--config", cfg)
    assert ok.returncode == 0 and "installed model site-a (10 classes" in ok.stderr + ok.stdout, ok.stderr
    assert "systemctl reload traycheck" in ok.stderr + ok.stdout
    assert pointer(data)["name"] == "site-a" and pointer(data)["previous"] is None
    assert {p.name for p in models.iterdir()} == {"active.json", "site-a.onnx", "site-a.int8.onnx", "site-a.json"}
    ok = cli("model", "install", src / "site-b.int8.onnx", "--config", cfg)
    assert ok.returncode == 0 and pointer(data) | {"changed_at": 0} == {"name": "site-b", "previous": "site-a",
                                                                        "changed_at": 0}
    # another family under a taken name is kept beside it (rollback may need the old one)
    meta = json.loads((src / "site-a.json").read_text())
    (src / "site-a.json").write_text(json.dumps(meta | {"note": "retrained"}))
    ok = cli("model", "install", src / "site-a.json", "--config", cfg)
    assert ok.returncode == 0 and "as site-a-2" in ok.stderr + ok.stdout, ok.stderr
    assert pointer(data)["name"] == "site-a-2" and load_metadata(models / "site-a-2.onnx")["name"] == "site-a-2"
    assert load_metadata(models / "site-a.onnx").get("note") is None

    back = cli("model", "rollback", "--config", cfg)
    assert back.returncode == 0 and "active model is now site-b (was site-a-2)" in back.stderr + back.stdout
    assert pointer(data)["name"] == "site-b" and pointer(data)["previous"] == "site-a-2"
    check = cli("config", "check", cfg)
    assert check.returncode == 0 and "model site-b (installed, 10 classes)" in check.stderr, check.stderr
    assert not list(models.glob(".*"))  # no temporary file left behind


def test_a_model_with_other_classes_switches_in_once_the_station_is_empty(tmp_path, small_scenario):
    """In-process, real video: a switch asked for mid-tray waits for the tray to leave; the
    tray's later verdict still uses the old classes, the next tray's the new ones."""
    folder = prepare(small_scenario, tmp_path)
    new = load_detector(make_family(tmp_path / "m", "site-menu", renamed_classes(), int8=False))
    menu_file = tmp_path / "menu.yaml"
    menu_file.write_text(RENAMED_MENU)
    new_menu = load_menu(menu_file, classes=new.classes)
    asked: list[bool] = []

    def on_verdict(v, pipe) -> None:
        if not asked:
            pipe.switch_model(new, new_menu)
            asked.append(pipe.switch_pending)

    result = replay_folder(folder, load_detector(), None, on_verdict=on_verdict, progress=False)
    by_tray = {}
    for r in result.verdicts:
        by_tray.setdefault(r["tray"], []).append(r)
    assert asked == [True] and sorted(by_tray) == [1, 2]
    first = by_tray[1]  # 1042: a sauce missing, then fixed, all on the old model
    assert [r["verdict"] for r in first] == ["mismatch", "resolved"] and first[0]["missing"] == {"sauce": 1}
    assert set(first[-1]["seen"]) == {"burger", "fries", "drink", "sauce"}
    second = by_tray[2]  # the wrap tray, seen by the new model
    assert second[0]["verdict"] == "no_order" and second[0]["seen"] == {"falafel_wrap": 1}


def test_sighup_switches_models_without_losing_a_verdict_and_refuses_a_forced_bad_one(tmp_path, cli):
    port = free_port()
    data = tmp_path / "data"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(data=data, src=FIXTURES / "lunch-rush", port=port)
                   + "detector: {int8: true}\n")  # the INT8 files of each family, and faster on a busy box
    make_family(tmp_path / "src", "site-v2")
    proc = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = collect_lines(proc)
    ready = f"http://127.0.0.1:{port}/readyz"

    def model_now() -> str:
        return httpx.get(ready, timeout=5).json()["model"]

    try:
        wait_http_ok(ready, proc, "service did not get ready", timeout=300)
        assert model_now() == str(MODELS_DIR / "traycheck-v8n.int8.onnx")
        n = wait_verdicts(data, 1, proc)

        ok = cli("model", "install", tmp_path / "src" / "site-v2", "--config", cfg)
        assert ok.returncode == 0, ok.stderr
        proc.send_signal(signal.SIGHUP)
        wait_line(lines, "expo-1: now detecting with " + str(data / "models" / "site-v2.int8.onnx"), proc)
        assert model_now() == str(data / "models" / "site-v2.int8.onnx")
        n = wait_verdicts(data, wait_verdicts(data, n, proc) + 1, proc)  # trays keep getting checked

        # forced by hand past install: a model whose classes do not cover the (default) menu
        make_family(data / "models", "site-menu", renamed_classes())
        (data / "models" / "active.json").write_text(json.dumps({"name": "site-menu", "previous": "site-v2"}))
        proc.send_signal(signal.SIGHUP)
        line = wait_line(lines, "reload refused", proc)
        assert "keeping the running config and model site-v2" in line and \
            "menu: default menu: skus.BURGER[0]: visual class 'burger' is not one of model site-menu's" in line
        wait_line(lines, "set back to the running model site-v2", proc)
        assert pointer(data)["name"] == "site-v2" and pointer(data)["refused"] == "site-menu"
        assert pointer(data)["previous"] is None  # site-v2's own previous: the config's model
        assert model_now() == str(data / "models" / "site-v2.int8.onnx")
        n = wait_verdicts(data, n + 1, proc)

        back = cli("model", "rollback", "--config", cfg)
        assert back.returncode == 0 and "active model is now detector.model" in back.stderr, back.stderr
        proc.send_signal(signal.SIGHUP)
        wait_line(lines, "expo-1: now detecting with " + str(MODELS_DIR / "traycheck-v8n.int8.onnx"), proc)
        assert model_now() == str(MODELS_DIR / "traycheck-v8n.int8.onnx")
        wait_verdicts(data, n + 1, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    assert proc.returncode == 0, "".join(lines)
    assert not any("Traceback" in x or "failed" in x for x in lines), "".join(lines)
    with sqlite3.connect(data / "traycheck.db") as db:
        seqs = [s for (s,) in db.execute("SELECT seq FROM trays ORDER BY seq")]
        without = db.execute("SELECT COUNT(*) FROM trays t WHERE NOT EXISTS "
                             "(SELECT 1 FROM verdicts v WHERE v.tray_id = t.id)").fetchone()[0]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 4, seqs  # every tray, across three switches
    assert without == 0
