"""``traycheck model``: compare model families on labelled photos, install one into service, roll back."""
from __future__ import annotations

import typer

model_app = typer.Typer(no_args_is_help=True,
                        help="Models: compare two on labelled photos; install one into the appliance; roll back.")
