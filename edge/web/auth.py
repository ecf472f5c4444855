"""Dashboard sign-in: password hashes, signed session cookies, CSRF tokens, a login rate limit.

Standard library only. Passwords are hashed with scrypt (salted, deliberately
slow); sessions are a signed cookie (HMAC-SHA256 over the user, role and
expiry) so the box keeps no session table; the CSRF token is an HMAC of the
session's nonce, sent back in every form and in the ``X-CSRF-Token`` header of
scripted requests.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SESSION_COOKIE = "traycheck_session"
SESSION_HOURS = 12.0  # a shift


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return "scrypt${n}${r}${p}$".format(**SCRYPT) + f"{salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


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


@dataclass(frozen=True)
class Session:
    user: str
    role: str
    nonce: str
    expires: float

    @property
    def manager(self) -> bool:
        return self.role == "manager"


class Signer:
    def __init__(self, secret: bytes):
        self.secret = secret

    def _mac(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.secret, data, hashlib.sha256).digest()).decode().rstrip("=")

    def issue(self, user: str, role: str, hours: float = SESSION_HOURS) -> str:
        body = json.dumps({"u": user, "r": role, "n": secrets.token_hex(8), "e": time.time() + hours * 3600},
                          separators=(",", ":")).encode()
        payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{payload}.{self._mac(payload.encode())}"

    def load(self, cookie: str | None) -> Session | None:
        """The session a cookie proves, or None (missing, forged, expired)."""
        if not cookie or "." not in cookie:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload.encode())):
            return None
        try:
            d = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            s = Session(str(d["u"]), str(d["r"]), str(d["n"]), float(d["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return s if s.expires > time.time() else None

    def csrf(self, session: Session) -> str:
        return self._mac(f"csrf:{session.user}:{session.nonce}".encode())

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf(session))


class LoginLimiter:
    """At most ``attempts`` failed sign-ins per client address in ``window_s``."""

    def __init__(self, attempts: int = 5, window_s: float = 300.0):
        self.attempts, self.window_s = attempts, window_s
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def blocked_for(self, key: str) -> float:
        """Seconds until this client may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            q = self._recent(key, now)
            return 0.0 if len(q) < self.attempts else self.window_s - (now - q[0])

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
