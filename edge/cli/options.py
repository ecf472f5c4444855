"""The one rule for where a command finds the appliance, shared by every command that acts on one.

``--config FILE`` (default ``/etc/traycheck/config.yaml``) names the installed appliance; its
``data_dir`` and ``menu`` follow from it, so no command asks for them again. ``--data-dir DIR``
is only for a box that has no config: the data directory of a rehearsal (``replay --data-dir``),
where ``users`` and ``data export`` may act on it directly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from edge.app.config import load_config
from edge.errors import InvalidInput

DEFAULT_CONFIG = Path("/etc/traycheck/config.yaml")
CONFIG_HELP = "the appliance's config YAML (see deploy/config.example.yaml)"
DB_NAME = "traycheck.db"


def config_option() -> Any:
    """``--config FILE``, default the installed appliance's config."""
    return typer.Option(DEFAULT_CONFIG, "--config", metavar="FILE", help=CONFIG_HELP)


def optional_config_option() -> Any:
    """``--config FILE`` of a command that also takes ``--data-dir``: None tells "not given"
    apart from the default, so that giving both is refused rather than one silently winning."""
    return typer.Option(None, "--config", metavar="FILE",
                        help=f"{CONFIG_HELP}; its data_dir is used (default: {DEFAULT_CONFIG})")


def rehearsal_data_dir_option() -> Any:
    """``--data-dir DIR`` where no appliance config exists."""
    return typer.Option(None, "--data-dir", metavar="DIR",
                        help="instead of --config: a data directory without a config (a rehearsal's, "
                             "from 'replay --data-dir')")


def appliance_db(config: Optional[Path], data_dir: Optional[Path]) -> Path:
    """The database file: in ``--data-dir``, else in the config's data_dir (default config)."""
    if config is not None and data_dir is not None:
        raise InvalidInput("give --config FILE or --data-dir DIR, not both")
    if data_dir is None:
        data_dir = Path(load_config(config or DEFAULT_CONFIG).data_dir)
    return data_dir / DB_NAME
