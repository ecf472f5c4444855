"""Where a site's real-image base weights are installed, and whether ``train --data`` starts from them.

Real-image features count real trays far better than the bundled renders-only weights
(docs/own-menu.md), so a run without ``--from`` starts from these wherever a site has them.
"""
from __future__ import annotations

import os
from pathlib import Path

from edge.core import console
from edge.errors import InvalidInput

BASE_ENV = "TRAYCHECK_BASE_WEIGHTS"


def base_weights_path() -> Path:
    """Where a site's real-image base weights are installed: ``$TRAYCHECK_BASE_WEIGHTS``, else
    ``$XDG_DATA_HOME/traycheck/base-weights.pt`` (``~/.local/share/...``)."""
    if os.environ.get(BASE_ENV):
        return Path(os.environ[BASE_ENV])
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "traycheck" / "base-weights.pt"


def installed_base() -> str | None:
    """The installed real-image base weights ``train --data`` starts from without ``--from`` (None: none
    installed, start from the bundled model). Real-image features count real trays far better than the
    bundled renders-only weights (docs/own-menu.md), so they win wherever a site has them."""
    p = base_weights_path()
    if p.is_file():
        console.print(f"starting from the installed base weights {p} (--from overrides)")
        return str(p)
    if os.environ.get(BASE_ENV):
        raise InvalidInput(f"{BASE_ENV}={p}: no such file (unset it to start from the bundled model)")
    return None
