"""The command line's common rules (issue 26, item 8): help text on every parameter, --version,
one --config rule for every command that acts on an installed appliance, and `orders import`
checking SKUs against the site's own menu."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import typer

from edge.cli.main import app
from edge.cli.options import DEFAULT_CONFIG
from tests.conftest import ROOT
from tests.test_cli import appliance_config, one_line_error


def _parameters(command, path: tuple[str, ...]):
    """(command path, parameter) of every command and sub-app, depth first."""
    subcommands = getattr(command, "commands", None)  # a group: typer's TyperGroup
    for param in command.params:
        yield path, param
    for name, sub in (subcommands or {}).items():
        yield from _parameters(sub, (*path, name))


def test_every_option_and_argument_of_every_command_has_help_text():
    root = typer.main.get_command(app)
    seen = list(_parameters(root, ("traycheck",)))
    commands = {path for path, _ in seen}
    # the walk reaches the sub-apps' commands, not only the root's
    assert {("traycheck", "orders", "import"), ("traycheck", "users", "add"), ("traycheck", "model", "install"),
            ("traycheck", "train"), ("traycheck",)} <= commands, sorted(commands)
    missing = [f"{' '.join(path)}: {p.name}" for path, p in seen if not (getattr(p, "help", None) or "").strip()]
    assert not missing, "parameters without help text: " + ", ".join(missing)


def test_version_prints_the_package_version(cli):
    proc = cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"traycheck {version('traycheck')}"


APPLIANCE_COMMANDS = [("run",), ("doctor",), ("config", "check"), ("model", "rollback"),
                      ("model", "install", "detectors/models/traycheck-v8n.onnx"), ("camera", "calibrate", "expo-1"),
                      ("users", "list"), ("users", "disable", "kim"),
                      ("data", "export", "-o", "/tmp/never-written", "--since", "2026-01-01"),
                      ("orders", "import", "fixtures/lunch-rush/pos.jsonl")]


@pytest.mark.skipif(DEFAULT_CONFIG.exists(), reason=f"{DEFAULT_CONFIG} exists on this machine")
def test_every_appliance_command_reads_the_default_config(cli):
    for args in APPLIANCE_COMMANDS:
        one_line_error(cli(*args, timeout=120), f"config {DEFAULT_CONFIG}: not found")
    assert not Path("/tmp/never-written").exists()


def test_every_appliance_command_takes_config_and_names_a_missing_or_unreadable_file(cli, tmp_path):
    missing, folder = tmp_path / "nowhere.yaml", tmp_path / "a-folder"
    folder.mkdir()
    for args in APPLIANCE_COMMANDS:
        one_line_error(cli(*args, "--config", missing, timeout=120), f"config {missing}: not found")
    for args in (("run",), ("users", "list"), ("orders", "import", "fixtures/lunch-rush/pos.jsonl")):
        one_line_error(cli(*args, "--config", folder, timeout=120), f"config {folder}: is a folder")


def test_config_check_takes_config_or_its_old_positional(cli, tmp_path):
    cfg = appliance_config(tmp_path)
    for args in (("--config", cfg), (cfg,), (cfg, "--config", cfg)):
        proc = cli("config", "check", *args, timeout=300)
        assert proc.returncode == 0 and f"{cfg}: ok (1 cameras" in proc.stderr + proc.stdout, proc.stderr
    one_line_error(cli("config", "check", cfg, "--config", tmp_path / "other.yaml"), "give the config once")


def test_data_dir_is_for_a_box_without_config_and_not_beside_one(cli, tmp_path):
    cfg = appliance_config(tmp_path)
    pw = tmp_path / "pw"
    pw.write_text("4711\n")
    ok = cli("users", "add", "kim", "--password-file", pw, "--config", cfg)  # the config's data_dir
    assert ok.returncode == 0 and str(tmp_path / "data" / "traycheck.db") in ok.stdout + ok.stderr, ok.stderr
    listed = cli("users", "list", "--data-dir", tmp_path / "data")  # the same box, named by its folder
    assert listed.returncode == 0 and re.search(r"kim\s+viewer", listed.stdout + listed.stderr), listed.stderr
    for args in (("users", "list"), ("data", "export", "-o", tmp_path / "x", "--since", "2026-01-01")):
        one_line_error(cli(*args, "--config", cfg, "--data-dir", tmp_path / "data"),
                       "give --config FILE or --data-dir DIR, not both")
    assert not (tmp_path / "x").exists()


# -- orders import: the site's menu ---------------------------------------------------------------

def _order(order_id: str, *skus: str) -> str:
    return json.dumps({"id": order_id, "items": [{"sku": s, "qty": 1} for s in skus]})


def _stored_orders(db: Path) -> list[tuple[str, str]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT o.id, l.sku FROM orders o JOIN order_lines l ON l.order_id = o.id "
                            "ORDER BY o.id, l.line_no").fetchall()
    finally:
        conn.close()


def test_orders_import_checks_skus_against_the_sites_menu(cli, tmp_path):
    menu = tmp_path / "menu.yaml"
    menu.write_text("include_default: false\nskus:\n  HOUSE_BURGER: [burger, fries]\n  NAPKINS: []\n")
    cfg = appliance_config(tmp_path, menu=f"menu: {menu}")
    db = tmp_path / "data" / "traycheck.db"

    # a demo-menu SKU the site does not sell: refused with file, line and SKU; nothing stored
    orders = tmp_path / "orders.jsonl"
    orders.write_text(_order("A1", "HOUSE_BURGER") + "\n" + _order("A2", "NAPKINS", "BURGER") + "\n")
    one_line_error(cli("orders", "import", orders, "--config", cfg), f"{orders}: line 2", "items.1.sku",
                   "unknown SKU 'BURGER'", f"menu file {menu}")
    assert _stored_orders(db) == []

    # the site's own SKUs (not on the demo menu) go into the config's data_dir
    orders.write_text(_order("A1", "HOUSE_BURGER") + "\n" + _order("A2", "NAPKINS", "HOUSE_BURGER") + "\n")
    proc = cli("orders", "import", orders, "--config", cfg, "--camera", "expo-1")
    assert proc.returncode == 0 and "2 orders stored, 0 unchanged" in proc.stdout + proc.stderr, proc.stderr
    assert _stored_orders(db) == [("A1", "HOUSE_BURGER"), ("A2", "NAPKINS"), ("A2", "HOUSE_BURGER")]
    again = cli("orders", "import", orders, "--config", cfg, "--camera", "expo-1")
    assert again.returncode == 0 and "0 orders stored, 2 unchanged" in again.stdout + again.stderr, again.stderr


def test_orders_import_names_a_menu_file_it_cannot_read(cli, tmp_path):
    menu = tmp_path / "no-menu.yaml"
    cfg = appliance_config(tmp_path, menu=f"menu: {menu}")
    orders = tmp_path / "orders.jsonl"
    orders.write_text(_order("A1", "BURGER") + "\n")
    one_line_error(cli("orders", "import", orders, "--config", cfg), f"config {cfg}: menu: menu file {menu}")
    assert _stored_orders(tmp_path / "data" / "traycheck.db") == []


def test_a_long_message_stays_one_line_in_a_log_and_tables_take_columns():
    """Piped to the journal or a file, a message is never hard-wrapped at the console width (a reader
    greps one line); a table is laid out COLUMNS wide when that is set."""
    code = ("from rich.table import Table; from edge.core import console; console.print('word ' * 100); "
            "t = Table('a'); t.add_row('cell ' * 100); console.print(t)")
    for columns, widest in (("", 160), ("90", 90)):
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | ({"COLUMNS": columns} if columns else {})
        err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                             cwd=ROOT).stderr
        lines = err.splitlines()
        assert lines[0].split() == ["word"] * 100, err
        assert max(len(line) for line in lines[1:]) == widest, err
