"""Bad start-up inputs (issue 25, findings 6 and 7): secret files in the data dir, config bytes and
numbers, model files. Each is one line naming what and where, exit status 2 (the unit's
RestartPreventExitStatus), nothing changed, no traceback; and ``run``, ``config check`` and
``doctor`` say the same thing."""
from __future__ import annotations

from edge.errors import InvalidInput
import os
from pathlib import Path

import pytest

from edge.app.config import load_config
from test_cli import appliance_config, one_line_error

# -- finding 6: the secrets the service keeps in its data dir ---------------------------------------

BAD_SESSION_KEYS = [
    pytest.param(lambda p: p.write_text(""), "the dashboard session key is empty", id="empty"),
    pytest.param(lambda p: p.write_text("\n \n"), "the dashboard session key is empty", id="blank"),
    pytest.param(lambda p: p.write_text("not a hex key at all\n"), "the dashboard session key is not hex",
                 id="not-hex"),
    pytest.param(lambda p: p.write_text("abcd\n"), "the dashboard session key is 2 bytes, too short", id="short"),
    pytest.param(lambda p: p.write_bytes(b"\xff\xfe\xfa"), "cannot read the dashboard session key (not UTF-8",
                 id="not-utf8"),
    pytest.param(lambda p: p.mkdir(), "cannot read the dashboard session key (is a folder", id="folder"),
]


@pytest.mark.parametrize("make,words", BAD_SESSION_KEYS)
def test_a_bad_session_key_is_a_start_up_problem_named_alike_everywhere(tmp_path, make, words):
    """In process (fast): ``startup_problems`` (what ``run`` refuses on), ``file_problems``
    (``config check``) and doctor's files row carry the same line; the key is never replaced."""
    from edge.app.config_files import file_problems, startup_problems
    from edge.web.auth import session_secret

    cfg = load_config(appliance_config(tmp_path))
    key = tmp_path / "data" / "session-key"
    key.parent.mkdir()
    make(key)
    before = key.read_bytes() if key.is_file() else None
    line = f"data_dir: {key}: "
    for problems in (startup_problems(cfg), file_problems(cfg)):
        assert len(problems) == 1 and problems[0].startswith(line) and words in problems[0], problems
    from edge.app.doctor import _files  # (doctor's files row, as a function since this fix)

    ok, detail = _files(cfg)
    assert not ok and detail.startswith(line) and words in detail, detail
    with pytest.raises(InvalidInput, match="session key"):
        session_secret(key.parent)
    assert (key.read_bytes() if key.is_file() else None) == before


@pytest.mark.parametrize("make,words", [BAD_SESSION_KEYS[0], BAD_SESSION_KEYS[2]])
def test_run_refuses_a_bad_session_key_in_one_line_with_exit_2_and_opens_nothing(tmp_path, cli, make, words):
    cfg = appliance_config(tmp_path)
    key = tmp_path / "data" / "session-key"
    key.parent.mkdir()
    make(key)
    one_line_error(cli("run", "--config", cfg, timeout=120), f"config {cfg}: data_dir: {key}: ", words)
    assert not (tmp_path / "data" / "traycheck.db").exists()  # refused before anything was opened
    one_line_error(cli("config", "check", cfg, timeout=120), f"config {cfg}: data_dir: {key}: ", words)


def test_a_bad_api_token_file_is_reported_by_config_check_and_doctor(tmp_path, cli):
    """``run`` refused it already (tests/test_api_token.py); ``config check`` said ok."""
    cfg = appliance_config(tmp_path)
    token = tmp_path / "data" / "api-token"
    token.mkdir(parents=True)
    one_line_error(cli("config", "check", cfg, timeout=120), f"data_dir: {token}: cannot read the POS API token")
    from edge.app.doctor import _files  # (doctor's files row, as a function since this fix)

    ok, detail = _files(load_config(cfg))
    assert not ok and f"{token}: cannot read the POS API token" in detail
    # a token that wins over the file: the file is not read, so not checked either
    os.environ["TRAYCHECK_API_TOKEN"] = "from-the-environment"
    try:
        assert _files(load_config(cfg))[0]
    finally:
        del os.environ["TRAYCHECK_API_TOKEN"]


@pytest.mark.parametrize("make,why", [(lambda p: p.write_text(""), "is empty"),
                                      (lambda p: p.write_bytes(b"pass\xffword"), "not UTF-8 text")])
def test_an_empty_or_binary_secret_file_named_in_the_config_is_refused(tmp_path, make, why):
    """An empty ``api_token_file`` used to fall back silently to the generated token; a binary
    ``password_file`` was a traceback."""
    from edge.app.config_files import startup_problems

    secret = tmp_path / "secret"
    make(secret)
    cfg = load_config(appliance_config(tmp_path, http=f"http:\n  listen: 127.0.0.1:1\n  api_token_file: {secret}"))
    assert startup_problems(cfg) == [f"http.api_token_file: {secret}: {why}" + (" (a write cut short?)"
                                                                             if why == "is empty" else " (byte 4)")]
    with pytest.raises(InvalidInput, match=f"http.api_token_file: {secret}: {why}"):
        cfg.http.resolved_token()
    cfg = load_config(appliance_config(tmp_path, mqtt=f"mqtt:\n  host: 127.0.0.1\n  username: u\n"
                                                      f"  password_file: {secret}"))
    with pytest.raises(InvalidInput, match=f"mqtt.password_file: {secret}: {why}"):
        cfg.mqtt.resolved_password()


def test_a_generated_session_key_is_written_whole_durably_and_never_replaced(tmp_path, monkeypatch):
    from edge.web.auth import session_secret

    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    key = session_secret(tmp_path)
    f = tmp_path / "session-key"
    assert f.read_text() == key.hex() + "\n" and len(key) == 32 and f.stat().st_mode & 0o777 == 0o600
    assert any(".session-key." in s for s in synced) and str(tmp_path) in synced  # the file, then its folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session-key"]  # no temporary file left
    assert session_secret(tmp_path) == key
    # another process made it first: its key is kept, never overwritten
    from edge.store import secret_files

    other = bytes(range(32))
    f.write_text(other.hex() + "\n")
    assert not secret_files.write_new_secret(f, "ab" * 32) and session_secret(tmp_path) == other


def test_a_session_key_that_cannot_be_written_is_one_line(tmp_path, read_only_dir):
    from edge.web.auth import session_secret

    with pytest.raises(InvalidInput, match=f"{read_only_dir / 'session-key'}: cannot write \\(Read-only file system"):
        session_secret(read_only_dir)


# -- finding 7: config bytes and numbers --------------------------------------------------------------

def _config_error(tmp_path: Path, **overrides: str) -> str:
    with pytest.raises(InvalidInput) as exc:
        load_config(appliance_config(tmp_path, **overrides))
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


CAMERA = "cameras:\n  - name: expo-1\n    source: x.mp4\n"


@pytest.mark.parametrize("overrides,expected", [
    ({"retention": "retention:\n  days: .inf"}, "retention.days: Input should be a finite number (got inf)"),
    ({"retention": "retention:\n  days: 'inf'"}, "retention.days: Input should be a finite number (got 'inf')"),
    ({"retention": "retention:\n  min_free_mb: .nan"}, "retention.min_free_mb: Input should be a finite number"),
    ({"orders": "orders:\n  expire_minutes: .inf"}, "orders.expire_minutes: Input should be a finite number"),
    ({"cameras": CAMERA + "    speed: .inf"}, "cameras.0.speed: Input should be a finite number (got inf)"),
    ({"cameras": CAMERA + "    pipeline:\n      ticket_wait_s: .inf"},
     "cameras.0.pipeline.ticket_wait_s: Input should be a finite number (got inf)"),
    ({"cameras": CAMERA + "    zone: [[0.1, 0.1], [0.9, .nan], [0.5, 0.9]]"}, "cameras.0.zone.1.1: Input should be "
                                                                            "a finite number"),
    ({"cameras": CAMERA + "    speed: 0"}, "cameras.0.speed: Input should be greater than 0 (got 0)"),
    ({"cameras": CAMERA + "    speed: -1"}, "cameras.0.speed: Input should be greater than 0 (got -1)"),
    ({"cameras": CAMERA + "    zone: [[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]"},
     "cameras.0.zone: the zone encloses no area of the frame"),
    ({"cameras": CAMERA + "    zone: [[0.2, 0.2], [0.2, 0.2], [0.2, 0.2], [0.2, 0.2]]"},
     "cameras.0.zone: the zone encloses no area of the frame"),
])
def test_numbers_that_would_break_the_service_later_are_refused_with_the_key_path(tmp_path, overrides, expected):
    msg = _config_error(tmp_path, **overrides)
    assert msg.startswith(f"config {tmp_path / 'config.yaml'}: ") and expected in msg, msg


def test_good_numbers_still_load(tmp_path):
    cfg = load_config(appliance_config(tmp_path, cameras=CAMERA + "    speed: 0.5\n    zone: [[0, 0], [1, 0], [0, 1]]",
                                       retention="retention:\n  days: 7.5"))
    assert cfg.cameras[0].speed == 0.5 and cfg.retention.days == 7.5
    assert load_config(appliance_config(tmp_path, cameras=CAMERA + "    speed: null")).cameras[0].speed is None


def test_a_config_that_is_not_utf8_is_one_line_from_config_check_and_run(tmp_path, cli):
    cfg = appliance_config(tmp_path)
    cfg.write_bytes(cfg.read_bytes() + b"site: caf\xe9\n")  # saved as Latin-1
    line = cfg.read_bytes().count(b"\n")
    for args in (("config", "check", cfg), ("run", "--config", cfg)):
        one_line_error(cli(*args, timeout=120), f"config {cfg}: line {line}: not UTF-8 text", "save it as UTF-8")
    assert not (tmp_path / "data").exists()  # nothing created


def test_retention_days_inf_is_refused_by_config_check_and_run(tmp_path, cli):
    cfg = appliance_config(tmp_path, retention="retention:\n  days: .inf")
    for args in (("config", "check", cfg), ("run", "--config", cfg)):
        one_line_error(cli(*args, timeout=120), f"config {cfg}: retention.days: Input should be a finite number")


# -- finding 7: model files that do not load ------------------------------------------------------------

def _flat_onnx(path: Path) -> None:
    """A valid ONNX file that is no detector (a 2-D input): ONNX Runtime loads it, the detector cannot."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["out"])], "flat", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_a_pt_model_that_is_a_text_file_is_one_line_from_config_check_and_run(tmp_path, cli):
    pytest.importorskip("ultralytics")
    model = tmp_path / "weights.pt"
    model.write_text("this is not a checkpoint\n")
    cfg = appliance_config(tmp_path, detector=f"detector:\n  model: {model}")
    for args in (("config", "check", cfg), ("run", "--config", cfg)):
        one_line_error(cli(*args, timeout=300), f"model file {model}: cannot be loaded")
    assert not (tmp_path / "data" / "traycheck.db").exists()


def test_an_onnx_file_that_is_no_detector_is_one_line_from_config_check_and_model_install(tmp_path, cli):
    from tests.conftest import ROOT

    model = tmp_path / "flat.onnx"
    _flat_onnx(model)
    cfg = appliance_config(tmp_path, detector=f"detector:\n  model: {model}")
    one_line_error(cli("config", "check", cfg, timeout=300), f"model file {model}: cannot be loaded (IndexError")
    family = tmp_path / "family"
    family.mkdir()
    for suffix in (".onnx", ".int8.onnx"):
        _flat_onnx(family / f"site{suffix}")
    (family / "site.json").write_bytes((ROOT / "detectors/models/traycheck-v8n.json").read_bytes())
    good = appliance_config(tmp_path)
    one_line_error(cli("model", "install", family, "--config", good, timeout=300),
                   f"model file {family / 'site.onnx'}: cannot be loaded (IndexError")
    assert not (tmp_path / "data" / "models").exists()  # nothing installed
