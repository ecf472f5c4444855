"""The command line as users and scripts see it: exit codes, one-line errors, outputs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from detectors.synth.scenario import load_scenario
from tests.conftest import FIXTURES
from tests.mqtt_helpers import free_port


def one_line_error(proc, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def test_unreadable_scenario(cli, tmp_path):
    one_line_error(cli("synth", "shift", tmp_path / "missing.yaml", "-o", tmp_path / "out"), "missing.yaml", "not found")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    one_line_error(cli("synth", "shift", bad, "-o", tmp_path / "out"), "bad.yaml", "cannot read")
    assert not (tmp_path / "out").exists()


def test_unknown_sku_and_class(cli, small_scenario, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(small_scenario.read_text().replace("SAUCE_BBQ", "SAUCE_XXL"))
    one_line_error(cli("synth", "shift", bad, "-o", tmp_path / "out"), "line 10", "unknown SKU 'SAUCE_XXL'")
    bad.write_text(small_scenario.read_text().replace("placed: {burger: 1,", "placed: {hotdog: 1,"))
    one_line_error(cli("synth", "shift", bad, "-o", tmp_path / "out"), "line 12", "unknown visual class 'hotdog'")
    assert not (tmp_path / "out").exists()


def test_missing_model_file(cli, tmp_path):
    one_line_error(cli("detect", "fixtures/lunch-rush", "--model", tmp_path / "nope.onnx"), "nope.onnx", "not found")
    one_line_error(cli("detect", "fixtures/lunch-rush", "--model", "no-such-model"), "no-such-model", "not found")


def test_video_opencv_cannot_open(cli, tmp_path):
    (tmp_path / "video.mp4").write_text("this is not a video")
    one_line_error(cli("detect", tmp_path), "video.mp4", "OpenCV cannot open")
    one_line_error(cli("detect", tmp_path / "nothing-here"), "no such file")
    (tmp_path / "empty").mkdir()
    one_line_error(cli("detect", tmp_path / "empty"), "no video.mp4")


def test_bad_arguments_are_usage_errors(cli, tmp_path):
    proc = cli("synth", "dataset", "-n", "0", "--seed", "1", "-o", tmp_path / "ds")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not (tmp_path / "ds").exists()
    one_line_error(cli("synth", "scenario", "--kind", "brunch", "--seed", "1", "-o", tmp_path / "s.yaml"),
                   "--kind 'brunch'")


def test_synth_scenario_writes_a_valid_scenario(cli, tmp_path):
    out = tmp_path / "s.yaml"
    proc = cli("synth", "scenario", "--kind", "dim-evening", "--seed", "99", "-o", out)
    assert proc.returncode == 0, proc.stderr
    loaded = load_scenario(out)
    assert loaded.scenario.name == "dim-evening-99" and loaded.scenario.camera.brightness == 0.6
    assert 8 <= len(loaded.scenario.trays) <= 20
    again = tmp_path / "again.yaml"
    cli("synth", "scenario", "--kind", "dim-evening", "--seed", "99", "-o", again)
    assert again.read_text() == out.read_text()
    assert yaml.safe_load(out.read_text())["seed"] == 99


def test_synth_shift_and_detect(cli, small_scenario, tmp_path):
    proc = cli("synth", "shift", small_scenario, "-o", tmp_path / "shift")
    assert proc.returncode == 0, proc.stderr
    proc = cli("detect", tmp_path / "shift", "-o", tmp_path / "annotated.mp4")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "annotated.mp4").stat().st_size > 10_000
    assert "1042" in proc.stdout and "counts right on" in proc.stdout  # results on stdout (docs/cli.md)


def test_bench_json_contract(cli):
    pytest.importorskip("ultralytics")
    proc = cli("bench", "--json", "--frames", "12", "--detectors-only")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    rows = {r["name"]: r for r in result["rows"]}
    assert {"ultralytics", "onnx-fp32", "onnx-int8"} <= set(rows)
    for r in rows.values():
        assert r["fps"] > 0 and 0 < r["p50_ms"] <= r["p95_ms"]
    assert result["frames"] == 12


# -- start-up errors: one line, exit status 2 (the unit's RestartPreventExitStatus) --------------

def appliance_config(tmp_path, **overrides: str) -> Path:
    """A config whose every file exists (a fixture video as the camera, loopback HTTP); ``overrides``
    replace or add top-level YAML blocks."""
    blocks = {"data_dir": f"data_dir: {tmp_path / 'data'}",
              "cameras": f"cameras:\n  - name: expo-1\n    source: {FIXTURES / 'lunch-rush' / 'video.mp4'}",
              "http": f"http:\n  listen: 127.0.0.1:{free_port()}"}
    blocks.update(overrides)
    cfg = tmp_path / "config.yaml"
    cfg.write_text("\n".join(blocks.values()) + "\n")
    return cfg


def test_run_with_a_read_only_data_dir_is_one_line_and_exit_2(cli, tmp_path, read_only_dir):
    cfg = appliance_config(tmp_path, data_dir=f"data_dir: {read_only_dir / 'data'}")
    one_line_error(cli("run", "--config", cfg, timeout=120), f"config {cfg}: data_dir: {read_only_dir / 'data'}",
                   "Read-only file system")
    cfg = appliance_config(tmp_path, data_dir=f"data_dir: {read_only_dir}")  # exists, but takes no file
    one_line_error(cli("run", "--config", cfg, timeout=120), f"data_dir: {read_only_dir}: not writable",
                   "Read-only file system")
    one_line_error(cli("config", "check", cfg, timeout=120), f"data_dir: {read_only_dir}: not writable")


def test_run_with_a_data_dir_under_a_file_is_one_line_and_exit_2(cli, tmp_path):
    (tmp_path / "plain-file").write_text("x")
    data = tmp_path / "plain-file" / "data"
    cfg = appliance_config(tmp_path, data_dir=f"data_dir: {data}")
    one_line_error(cli("run", "--config", cfg, timeout=120), f"data_dir: {data}: not writable", "Not a directory")
    one_line_error(cli("config", "check", cfg, timeout=120), f"data_dir: {data}: cannot be created",
                   "is not a folder")


def test_run_with_a_missing_secret_or_model_is_one_line_and_exit_2(cli, tmp_path):
    token, password, model = tmp_path / "no-token", tmp_path / "no-password", tmp_path / "no-model.onnx"
    cases = [
        ({"http": f"http:\n  listen: 127.0.0.1:1\n  api_token_file: {token}"}, f"http.api_token_file: {token}"),
        ({"mqtt": f"mqtt:\n  host: 127.0.0.1\n  username: u\n  password_file: {password}"},
         f"mqtt.password_file: {password}"),
        ({"detector": f"detector:\n  model: {model}"}, f"detector.model: model file {model}"),
    ]
    for overrides, expected in cases:
        cfg = appliance_config(tmp_path, **overrides)
        proc = cli("run", "--config", cfg, timeout=120)
        one_line_error(proc, f"config {cfg}: {expected}", "not found")
    assert not (tmp_path / "data" / "traycheck.db").exists()  # refused before anything was opened
    # a secret file the service cannot read (a folder stands in: root reads any file)
    token.mkdir()
    cfg = appliance_config(tmp_path, http=f"http:\n  listen: 127.0.0.1:1\n  api_token_file: {token}")
    one_line_error(cli("run", "--config", cfg, timeout=120), f"http.api_token_file: {token}: is a folder")


def test_config_check_names_every_missing_file_one_line_each(cli, tmp_path):
    menu, video, token = tmp_path / "menu.yaml", tmp_path / "cam.mp4", tmp_path / "pw"
    model = tmp_path / "model.onnx"
    cfg = appliance_config(
        tmp_path, menu=f"menu: {menu}", detector=f"detector:\n  model: {model}",
        cameras=f"cameras:\n  - name: expo-1\n    source: {video}\n  - name: expo-2\n    source: rtsp://127.0.0.1:9/x",
        mqtt=f"mqtt:\n  host: 127.0.0.1\n  username: u\n  password_file: {token}")
    proc = cli("config", "check", cfg, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    expected = [f"mqtt.password_file: {token}: not found", f"detector.model: model file {model}: not found",
                f"menu: {menu}: not found", f"cameras.0.source: {video}: not found"]
    assert len(lines) == len(expected), proc.stderr
    for line, want in zip(lines, expected):
        assert line == f"error: config {cfg}: {want}", (line, want)
    assert "expo-2" not in proc.stderr  # a stream URL is not a file: doctor tries it

    ok = appliance_config(tmp_path, cameras=f"cameras:\n  - name: expo-1\n    source: {FIXTURES / 'lunch-rush'}")
    proc = cli("config", "check", ok, timeout=120)
    assert proc.returncode == 0 and ": ok (1 cameras" in proc.stderr, proc.stderr
    (tmp_path / "empty-shift").mkdir()
    bad = appliance_config(tmp_path, cameras=f"cameras:\n  - name: expo-1\n    source: {tmp_path / 'empty-shift'}")
    one_line_error(cli("config", "check", bad, timeout=120), "cameras.0.source:", "no video.mp4 in this folder")
