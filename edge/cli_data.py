"""``traycheck data``: labelled photos in and out (import from labelling tools, export for them)."""
from __future__ import annotations

import typer

data_app = typer.Typer(no_args_is_help=True,
                       help="Labelled photos: import a labelling tool's export as a dataset; export "
                            "stored trays for labelling.")
