"""The POS API token: from ``TRAYCHECK_API_TOKEN``, else generated once per data directory.

A generated token is stored (mode 600) in ``<data_dir>/api-token``; the log says
where, never the token itself (a journal is readable by more people than the
token should be). There is never a default token, and never an empty one: a token file
that is empty, unreadable or not text stops the start (``api_token_problem`` is also one
of ``startup_problems``, so ``config check`` and ``doctor`` say the same).
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from edge.core import console
from edge.errors import InvalidInput
from edge.store.secret_files import load_secret, write_new_secret

log = logging.getLogger("traycheck.web")


def token_path(data_dir: Path) -> Path:
    return Path(data_dir) / "api-token"


def _token_file(path: Path) -> tuple[str, str | None]:
    """(token, None), or ("", one line naming the file and what is wrong): one read for both, so the
    start-up check and the value used cannot disagree."""
    token, why = load_secret(path)
    if why is None:
        return token, None
    if why.startswith("is empty"):
        return "", (f"{path}: the POS API token file is empty (a write cut short?); delete it to generate a new "
                    "one, or write the POS's token into it")
    return "", f"{path}: cannot read the POS API token ({why}); fix its permissions, or delete it to generate a new one"


def api_token_problem(data_dir: Path) -> str | None:
    """Why the data dir's token file cannot be used (one line naming it), or None: absent
    (one is generated) or good. The caller decides whether the file is used at all."""
    path = token_path(data_dir)
    if not (path.exists() or path.is_symlink()):
        return None
    return _token_file(path)[1]


def api_token(data_dir: Path) -> str:
    env = os.environ.get("TRAYCHECK_API_TOKEN")
    if env:
        return env
    path = token_path(data_dir)
    if not (path.exists() or path.is_symlink()):
        token = secrets.token_urlsafe(24)
        if write_new_secret(path, token):
            console.print(f"generated the POS API token into {path} (mode 600; not logged: read it from there)",
                          highlight=False, soft_wrap=True)
            return token
        # another process made one first: theirs it is
    token, problem = _token_file(path)
    if problem:
        raise InvalidInput(problem)
    return token
