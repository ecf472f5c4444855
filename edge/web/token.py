"""The POS API token: from ``TRAYCHECK_API_TOKEN``, else generated once per data directory.

A generated token is stored (mode 600) in ``<data_dir>/api-token``; the log says
where, never the token itself (a journal is readable by more people than the
token should be). There is never a default token.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from edge.core import console

log = logging.getLogger("traycheck.web")


def api_token(data_dir: Path) -> str:
    env = os.environ.get("TRAYCHECK_API_TOKEN")
    if env:
        return env
    path = Path(data_dir) / "api-token"
    if path.is_file():
        return path.read_text().strip()
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    console.print(f"generated the POS API token into {path} (mode 600; not logged: read it from there)",
                  highlight=False, soft_wrap=True)
    return token
