"""Secret files (the POS API token, the dashboard session key, password files): read whole or
refused with the reason, and written so that a power cut never leaves half a file.

A secret file that is empty, unreadable, a folder or not UTF-8 text is something an operator must
fix, never a value: an empty token or signing key would mean no protection at all. Readers get the
reason as one short phrase (``secret_problem``) so that ``run``, ``config check`` and ``doctor``
name the same file and the same fault. Standard library only: every layer may use it.
"""
from __future__ import annotations

import os
from pathlib import Path

from edge.errors import InvalidInput


def load_secret(path: Path) -> tuple[str, str | None]:
    """(stripped text, None) or ("", why): one read gives both the value and the verdict, so a
    check and the read that follows it cannot disagree about what the file was."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return "", "not found"
    except IsADirectoryError:
        return "", "is a folder, not a file"
    except PermissionError:
        return "", "not readable by this user (permission denied)"
    except OSError as exc:
        return "", f"cannot read ({exc.strerror or exc})"
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        return "", f"not UTF-8 text (byte {exc.start})"
    if not text:
        return "", "is empty (a write cut short?)"
    return text, None


def secret_problem(path: Path) -> str | None:
    """Why ``path`` cannot serve as a secret file (a short phrase: "is empty (...)",
    "is a folder, not a file", ...), or None when it holds non-blank UTF-8 text."""
    return load_secret(path)[1]


def read_secret(path: Path, key: str) -> str:
    """The stripped text of secret file ``path``; a InvalidInput ``KEY: PATH: why`` when it is
    missing, unreadable, not text or blank (never an empty secret)."""
    text, why = load_secret(path)
    if why:
        raise InvalidInput(f"{key}: {path}: {why}")
    return text


def write_new_secret(path: Path, text: str) -> bool:
    """Create ``path`` (mode 600) holding ``text`` + newline, unless it exists: True when this call
    wrote it, False when it was there already (another process made it first: keep theirs).

    Written whole or not at all, and durable before it is used: a temporary file is written and
    fsynced, linked into place (``link`` fails on an existing name where ``rename`` would replace
    it), and the folder is fsynced, so a power cut never leaves an empty or half secret."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: a rename, where nobody raced us
                if path.exists():
                    return False
                os.rename(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:  # a full disk, a read-only data dir: one line, never a half-written secret
        raise InvalidInput(f"{path}: cannot write ({exc.strerror or exc})") from None
    return True
