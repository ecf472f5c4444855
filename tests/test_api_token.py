"""The POS API token: an empty token never means "no authentication", and a token file that is
empty, unreadable or a folder stops the start in one line with exit 2 (no restart loop)."""
from __future__ import annotations

import pytest

from edge.web.headers import bearer_ok
from test_cli import appliance_config


@pytest.mark.parametrize("header", ["Bearer ", "Bearer", "bearer  ", "Bearer x", None, ""])
def test_an_empty_token_matches_nothing(header):
    assert not bearer_ok(header, "")


def test_the_right_token_matches_and_blanks_do_not():
    assert bearer_ok("Bearer s3cret", "s3cret") and bearer_ok("bearer s3cret", "s3cret")
    assert not bearer_ok("Bearer ", "s3cret") and not bearer_ok("Bearer s3cre", "s3cret")


@pytest.mark.parametrize("make,words", [
    (lambda p: p.write_text(""), "the POS API token file is empty"),
    (lambda p: p.write_text("\n  \n"), "the POS API token file is empty"),
    (lambda p: p.mkdir(), "cannot read the POS API token"),
    (lambda p: p.write_bytes(b"\xff\xfe\xfa"), "cannot read the POS API token"),
])
def test_a_bad_token_file_stops_the_start_in_one_line_with_exit_2(tmp_path, cli, make, words):
    cfg = appliance_config(tmp_path)
    token = tmp_path / "data" / "api-token"
    token.parent.mkdir()
    make(token)
    r = cli("run", "--config", cfg)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert str(token) in r.stderr and words in r.stderr, r.stderr


def test_a_generated_token_is_written_whole_with_mode_600(tmp_path):
    from edge.web.token import api_token

    token = api_token(tmp_path)
    f = tmp_path / "api-token"
    assert f.read_text() == token + "\n" and len(token) >= 32 and (f.stat().st_mode & 0o777) == 0o600
    assert api_token(tmp_path) == token and not (tmp_path / ".api-token.tmp").exists()
