"""The command line as users and scripts see it: exit codes, one-line errors, outputs."""
from __future__ import annotations

import json

import pytest
import yaml

from detectors.synth.scenario import load_scenario


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
