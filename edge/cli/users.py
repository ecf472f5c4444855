"""``traycheck users``: dashboard accounts (PIN or password, role viewer or manager)."""
from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Optional

import typer

from edge.cli.options import appliance_db, optional_config_option, rehearsal_data_dir_option
from edge.core import console
from edge.errors import InvalidInput
from edge.store.store import Store
from edge.store.users import Users

users_app = typer.Typer(no_args_is_help=True, help="Dashboard users: staff sign in with a PIN or password.")


def _password(password_file: Optional[Path]) -> str:
    if password_file is not None:
        try:
            return password_file.read_text().strip()
        except OSError as exc:
            raise InvalidInput(f"--password-file {password_file}: {exc.strerror}") from None
    env = os.environ.get("TRAYCHECK_USER_PASSWORD")
    if env:
        return env
    first = getpass.getpass("password or PIN: ")
    if getpass.getpass("again: ") != first:
        raise InvalidInput("the two entries differ; nothing changed")
    return first


@users_app.command("add")
def users_add(name: str = typer.Argument(..., help="sign-in name"),
              role: str = typer.Option("viewer", help="viewer (watch, acknowledge) or manager (everything)"),
              password_file: Optional[Path] = typer.Option(None, help="read the password from this file "
                                                           "(else TRAYCHECK_USER_PASSWORD, else a prompt)"),
              config: Optional[Path] = optional_config_option(),
              data_dir: Optional[Path] = rehearsal_data_dir_option()) -> None:
    """Create a user, or change an existing user's role and password."""
    path = appliance_db(config, data_dir)
    password = _password(password_file)
    store = Store(path, outbox=False)
    try:
        new = Users(store.db).add(name, role, password)
        store.audit("cli", "user added" if new else "user changed", name, {"role": role})
    finally:
        store.close()
    console.print(f"{'created' if new else 'updated'} {role} {name!r} in {path}")


@users_app.command("list")
def users_list(config: Optional[Path] = optional_config_option(),
               data_dir: Optional[Path] = rehearsal_data_dir_option()) -> None:
    """Names and roles (never passwords)."""
    store = Store(appliance_db(config, data_dir), outbox=False)
    try:
        for name, role in Users(store.db).list():
            console.print(f"{name}\t{role}")
    finally:
        store.close()


@users_app.command("disable")
def users_disable(name: str = typer.Argument(..., help="sign-in name"),
                  config: Optional[Path] = optional_config_option(),
                  data_dir: Optional[Path] = rehearsal_data_dir_option()) -> None:
    """Refuse a user's sign-ins and end their open dashboard sessions at once (``users add`` enables again)."""
    path = appliance_db(config, data_dir)
    store = Store(path, outbox=False)
    try:
        if not Users(store.db).disable(name):
            raise InvalidInput(f"user {name!r}: no such user in {path}")
        store.audit("cli", "user disabled", name)
    finally:
        store.close()
    console.print(f"disabled {name!r}: signed out everywhere, sign-ins refused")
