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

from edge.core import UserError, console

log = logging.getLogger("traycheck.web")


def api_token(data_dir: Path) -> str:
    env = os.environ.get("TRAYCHECK_API_TOKEN")
    if env:
        return env
    path = Path(data_dir) / "api-token"
    if path.exists() or path.is_symlink():
        try:
            token = path.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: cannot read the POS API token ({getattr(exc, 'strerror', None) or exc}); "
                            "fix its permissions, or delete it to generate a new one") from None
        if not token:
            raise UserError(f"{path}: the POS API token file is empty (a write cut short?); delete it to "
                            "generate a new one, or write the POS's token into it") from None
        return token
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".api-token.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
        f.flush()
        os.fsync(f.fileno())  # a power cut never leaves an empty token behind
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    console.print(f"generated the POS API token into {path} (mode 600; not logged: read it from there)",
                  highlight=False, soft_wrap=True)
    return token
