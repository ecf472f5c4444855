"""``traycheck model``: compare model families on labelled photos, install one into service, roll back."""
from __future__ import annotations

from pathlib import Path

import typer

model_app = typer.Typer(no_args_is_help=True,
                        help="Models: compare two on labelled photos; install one into the appliance; roll back.")


DEFAULT_CONFIG = Path("/etc/traycheck/config.yaml")


@model_app.command("install")
def model_install(src: Path = typer.Argument(..., help="a model family: NAME.onnx / NAME.int8.onnx / NAME.json, "
                                                       "DIR/NAME, or a folder holding one family"),
                  config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="the appliance's config YAML")) -> None:
    """Check a model family (both ONNX files load, classes cover the menu), copy it into the model
    directory and make it the active model; the service switches on SIGHUP."""
    from edge.config import load_config
    from edge.model_store import install
    from edge.progress import console
    from orders.menu import load_menu

    cfg = load_config(config)
    console.print(install(src, cfg, load_menu(cfg.menu)), highlight=False, soft_wrap=True)


@model_app.command("rollback")
def model_rollback(config: Path = typer.Option(DEFAULT_CONFIG, "--config",
                                               help="the appliance's config YAML")) -> None:
    """Point the active model back at the previous one; the service switches on SIGHUP."""
    from edge.config import load_config
    from edge.model_store import rollback
    from edge.progress import console
    from orders.menu import load_menu

    cfg = load_config(config)
    console.print(rollback(cfg, load_menu(cfg.menu)), highlight=False, soft_wrap=True)
