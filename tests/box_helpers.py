"""A data directory filled by a real replay of lunch-rush and served by the dashboard, shared by the
tray-flag and export tests (one replay per session), and read-only views of its database."""
from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

import httpx

from conftest import FIXTURES, run_cli
from edge.store.store import Store
from edge.store.users import Users
from edge.web.app import create_app
from edge.web.dashboard import Dashboard
from edge.web.server import WebServer
from mqtt_helpers import free_port
from orders.menu import Menu

NOTE = "two sauces on the tray, counted one"
HTTP_TIMEOUT = 60  # a sign-in hashes with scrypt: slow on a loaded 2-core box


def db_digest(db_path: Path) -> str:
    """A checksum of every table's rows (and the schema): equal before and after means unchanged."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    h = hashlib.sha256()
    try:
        for (name, sql) in conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall():
            h.update(f"{name}:{sql}".encode())
            if sql and sql.startswith("CREATE TABLE"):
                for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):
                    h.update(repr(row).encode())
    finally:
        conn.close()
    return h.hexdigest()


def trays_in_db(db_path: Path) -> list[dict]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM trays ORDER BY created_at, id")]
    finally:
        conn.close()


def sign_in(base: str, name: str, password: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=base, follow_redirects=False, timeout=HTTP_TIMEOUT)
    assert c.post("/login", data={"name": name, "password": password, "next": "/trays"}).status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/trays").text).group(1)
    return c, csrf


def serve_replayed_box(tmp_path_factory):
    """A data directory filled by a real replay, served by the dashboard (as the appliance would be
    while someone exports)."""
    data = tmp_path_factory.mktemp("box")
    r = run_cli("replay", FIXTURES / "lunch-rush", "--data-dir", data, "--speed", "max",
                timeout=1800)  # ~25 s alone; much longer niced beside a training run
    assert r.returncode == 0, r.stderr
    store = Store(data / "traycheck.db", outbox=False)
    Users(store.db).add("vera", "viewer", "viewer-pw")
    Users(store.db).add("max", "manager", "manager-pw")
    port = free_port()
    app = create_app(store, "pos-token", Menu(), dashboard=Dashboard(store, data, site="test",
                                                                     snapshot_root=data / "snapshots"))
    web = WebServer(app, "127.0.0.1", port)
    web.start()
    yield {"data": data, "db": data / "traycheck.db", "base": f"http://127.0.0.1:{port}", "store": store}
    web.stop()
    store.close()


def flag_third_tray(box) -> int:
    """The third tray of the shift, flagged "counted wrong" by a manager through the tray page's form."""
    tray = trays_in_db(box["db"])[2]
    c, csrf = sign_in(box["base"], "max", "manager-pw")
    r = c.post(f"/trays/{tray['id']}/flag", data={"csrf": csrf, "action": "flag", "note": NOTE})
    assert r.status_code == 303 and r.headers["location"] == f"/trays/{tray['id']}"
    return tray["id"]
