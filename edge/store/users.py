"""Dashboard users: names, roles (viewer, manager) and password hashes.

On a fresh install there is no default password: the first start creates the
user ``manager`` with a random password, kept in a mode-600 file whose path is
logged (never the password itself: journals are read by many).
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
from pathlib import Path

from edge.core import console
from edge.errors import InvalidInput
from edge.store.passwords import hash_password, verify_password
from edge.store.timestamps import utcnow
from edge.store.transaction import transaction

log = logging.getLogger("traycheck.users")
ROLES = ("viewer", "manager")
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class Users:
    def __init__(self, db: sqlite3.Connection):
        """``db``: the store's connection (``Store.db``), or a read-only one for the checks alone."""
        self.db = db

    def add(self, name: str, role: str, password: str) -> bool:
        """Create or update a user; True when the user is new."""
        if not NAME.match(name):
            raise InvalidInput(f"user name {name!r}: use 1-64 letters, digits or _ . @ -")
        if role not in ROLES:
            raise InvalidInput(f"role {role!r}: expected one of {', '.join(ROLES)}")
        if len(password) < 4:
            raise InvalidInput("password: at least 4 characters (a PIN) - longer is better")
        now = utcnow()
        with transaction(self.db):
            exists = self.db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone() is not None
            if exists:  # a new password or role: the user's open sessions end at once (re-enabled if disabled)
                self.db.execute("UPDATE users SET role = ?, password_hash = ?, updated_at = ?, disabled_at = NULL "
                                "WHERE name = ?", [role, hash_password(password), now, name])
                self.db.execute("DELETE FROM sessions WHERE user = ?", [name])
            else:
                self.db.execute("INSERT INTO users (name, role, password_hash, created_at, updated_at) "
                                "VALUES (?,?,?,?,?)", [name, role, hash_password(password), now, now])
        return not exists

    def disable(self, name: str) -> bool:
        """Refuse the user's sign-ins and end their sessions at once; False when there is no such user
        (``add`` with a new password enables them again)."""
        with transaction(self.db):
            changed = self.db.execute("UPDATE users SET disabled_at = ?, updated_at = ? WHERE name = ?",
                                      [utcnow(), utcnow(), name]).rowcount
            self.db.execute("DELETE FROM sessions WHERE user = ?", [name])
        return bool(changed)

    def check(self, name: str, password: str) -> str | None:
        """The user's role when the password is right and the user is enabled, else None (same work either way)."""
        return self.verify(name, password)[0]

    def verify(self, name: str, password: str) -> tuple[str | None, str]:
        """(role, "ok") when the password is right and the user is enabled, else (None, why): ``unknown_user``,
        ``wrong_password`` or ``disabled`` (the right password of a disabled user). The same hashing work either
        way, so the answer's time does not tell whether a name exists; the reason is for metrics and the audit."""
        row = self.db.execute("SELECT role, password_hash, disabled_at FROM users WHERE name = ?", [name]).fetchone()
        stored = row[1] if row else "scrypt$16384$8$1$00$00"  # spend the hashing time for unknown names too
        ok = verify_password(password, stored)
        if row is None:
            return None, "unknown_user"
        if not ok:
            return None, "wrong_password"
        return (None, "disabled") if row[2] is not None else (row[0], "ok")

    def exists(self, name: str) -> bool:
        """Whether ``name`` is a user (enabled or not): a refused sign-in names it in the audit log only then."""
        return self.db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone() is not None

    def list(self) -> list[tuple[str, str]]:
        """(name, role) of every user; a disabled user's role reads ``role (disabled)``."""
        rows = self.db.execute("SELECT name, role, disabled_at FROM users ORDER BY name").fetchall()
        return [(r[0], r[1] + (" (disabled)" if r[2] else "")) for r in rows]

    def ensure_first_manager(self, password_file: Path) -> str | None:
        """On an empty user table, create ``manager`` with a random password written to
        ``password_file`` (mode 600; the log says where, never the password); return it."""
        if self.db.execute("SELECT COUNT(*) FROM users").fetchone()[0]:
            return None
        password = secrets.token_urlsafe(12)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)  # an older file may have had other modes
            f.write(password + "\n")
        self.add("manager", "manager", password)
        console.print(f"created the first dashboard user 'manager'; its password is in {password_file} (mode 600, "
                      "not logged; change it with: traycheck users add manager --role manager, then delete the file)",
                      highlight=False, soft_wrap=True)
        return password
