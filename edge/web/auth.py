"""Dashboard sign-in: the cookie key, CSRF tokens, a login rate limit (password hashes:
``edge.store.passwords``; sessions: ``edge.store.sessions``).

Standard library only. Passwords are hashed with scrypt (salted, deliberately
slow); sessions live in the database (``edge.store.sessions``) so that they can
be revoked; the CSRF token is an HMAC of the session's id, sent back in every
form and in the ``X-CSRF-Token`` header of scripted requests.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from pathlib import Path

from edge.store.sessions import Session

SESSION_COOKIE = "traycheck_session"
SESSION_HOURS = 12.0  # a shift: the default absolute lifetime of a session
SESSION_IDLE_MINUTES = 240.0  # a session unused this long ends


def session_secret(data_dir: Path) -> bytes:
    """The key that signs session cookies: generated once per data directory (mode 600)."""
    path = Path(data_dir) / "session-key"
    if path.is_file():
        return bytes.fromhex(path.read_text().strip())
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
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


class LoginLimiter:
    """Failed sign-ins per client address and per account in ``window_s``, plus a global ceiling.

    An attempt is *reserved* before the (slow) password check and counted as a failure
    until it succeeds, so parallel requests cannot all slip past the count: of 30
    concurrent wrong passwords at most ``attempts`` are checked, the rest are refused.
    """

    def __init__(self, attempts: int = 5, window_s: float = 300.0, global_attempts: int = 50):
        self.window_s = window_s
        self.limits = {"client": attempts, "user": attempts, "*": global_attempts}
        self._attempts: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        q = self._attempts.setdefault(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    @staticmethod
    def keys(client: str, user: str) -> list[str]:
        return [f"client:{client}", f"user:{user.casefold()}", "*"]

    def reserve(self, keys: list[str]) -> float:
        """Reserve one attempt under every key at once: 0.0 when granted, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            wait = 0.0
            for key in keys:
                q = self._recent(key, now)
                if len(q) >= self.limits[key.partition(":")[0]]:
                    wait = max(wait, self.window_s - (now - q[0]))
            if wait > 0:
                return wait
            for key in keys:
                self._attempts[key].append(now)
            for key in [k for k, q in self._attempts.items() if not q]:  # bounded: forget idle keys
                del self._attempts[key]
            return 0.0

    def succeeded(self, keys: list[str]) -> None:
        """A right password: this client's and account's failures are forgiven, the global slot freed."""
        with self._lock:
            for key in keys:
                q = self._attempts.get(key)
                if key == "*":
                    if q:
                        q.pop()
                else:
                    self._attempts.pop(key, None)
