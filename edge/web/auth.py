"""Dashboard sign-in: the cookie key, CSRF tokens (password hashes: ``edge.store.passwords``;
sessions: ``edge.store.sessions``; the login limit: ``edge.web.login_limits``, re-exported here).

Standard library only. Passwords are hashed with scrypt (salted, deliberately
slow); sessions live in the database (``edge.store.sessions``) so that they can
be revoked; the CSRF token is an HMAC of the session's id, sent back in every
form and in the ``X-CSRF-Token`` header of scripted requests.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from edge.errors import InvalidInput
from edge.store.secret_files import load_secret, write_new_secret
from edge.store.sessions import Session
from edge.web.login_limits import LoginLimiter as LoginLimiter  # re-exported: where the dashboard finds it

SESSION_COOKIE = "traycheck_session"
SESSION_HOURS = 12.0  # a shift: the default absolute lifetime of a session
SESSION_IDLE_MINUTES = 240.0  # a session unused this long ends


SESSION_KEY_BYTES = 32  # a generated key; a shorter one (at least MIN_SESSION_KEY_BYTES) is taken as given
MIN_SESSION_KEY_BYTES = 16


def session_key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "session-key"


def _session_key(path: Path) -> tuple[bytes, str | None]:
    """(key, None), or (b"", one line naming the file and what is wrong with it): the file must
    hold at least ``MIN_SESSION_KEY_BYTES`` bytes as hex (an empty key would sign for anyone)."""
    text, why = load_secret(path)
    fix = "delete it to generate a new one (everyone signs in again)"
    if why:
        return b"", f"{path}: the dashboard session key {why}; {fix}" if why.startswith("is empty") else \
            f"{path}: cannot read the dashboard session key ({why}); fix its permissions, or {fix}"
    try:
        key = bytes.fromhex(text)
    except ValueError:
        return b"", f"{path}: the dashboard session key is not hex (damaged or edited?); {fix}"
    if len(key) < MIN_SESSION_KEY_BYTES:
        return b"", (f"{path}: the dashboard session key is {len(key)} bytes, too short to sign sessions "
                     f"(at least {MIN_SESSION_KEY_BYTES}); {fix}")
    return key, None


def session_key_problem(data_dir: Path) -> str | None:
    """Why the data dir's session key cannot be used (one line naming it), or None: absent (one is
    generated at start) or good. One of ``startup_problems``: ``run`` refuses, ``config check``
    and ``doctor`` say the same."""
    path = session_key_path(data_dir)
    if not (path.exists() or path.is_symlink()):
        return None
    return _session_key(path)[1]


def session_secret(data_dir: Path) -> bytes:
    """The key that signs session cookies: generated once per data directory (mode 600, written
    whole and fsynced); a InvalidInput naming the file when it is empty, unreadable or not a key."""
    path = session_key_path(data_dir)
    if not (path.exists() or path.is_symlink()):
        key = secrets.token_bytes(SESSION_KEY_BYTES)
        if write_new_secret(path, key.hex()):
            return key
        # another process made it first: theirs it is
    key, problem = _session_key(path)
    if problem:
        raise InvalidInput(problem)
    return key


class Signer:
    """CSRF tokens: an HMAC of the session id, so a form is only valid for the session that rendered it."""

    def __init__(self, secret: bytes):
        self.secret = secret

    def _mac(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.secret, data, hashlib.sha256).digest()).decode().rstrip("=")

    def csrf(self, session: Session) -> str:
        return self._mac(f"csrf:{session.user}:{session.nonce}".encode())

    def check_csrf(self, session: Session, token: str | None) -> bool:
        if not token:
            return False
        return hmac.compare_digest(token, self.csrf(session))
