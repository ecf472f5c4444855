"""``traycheck orders``: POS orders loaded in bulk into an installed appliance's database."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edge.app.config import load_config
from edge.app.orders_import import import_orders, site_menu
from edge.cli.options import config_option
from edge.core import console

orders_app = typer.Typer(no_args_is_help=True, help="POS orders in the local database.")


@orders_app.command("import")
def orders_import(file: Path = typer.Argument(..., help="JSON lines: one order per line, or pos.jsonl events"),
                  config: Path = config_option(),
                  camera: Optional[str] = typer.Option(None, help="route the orders to this camera")) -> None:
    """Load orders in bulk into the config's data_dir (idempotent by order id). The whole file is checked
    against the site's menu (the config's, as 'run' uses it) before anything is stored."""
    cfg = load_config(config)
    menu, menu_name = site_menu(cfg, config)
    added, unchanged, closed = import_orders(file, Path(cfg.data_dir), camera, menu, menu_name)
    console.print(f"{added} orders stored, {unchanged} unchanged, {len(closed)} refused (already closed)")
    for exc in closed[:10]:
        console.print(f"  {exc}")
