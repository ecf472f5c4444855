"""A real database with the dashboard's two users and one stored mismatch, for the access and
security tests."""
from __future__ import annotations

from pathlib import Path

from edge.store.store import Store
from edge.store.users import Users

VERDICT = {"schema": "traycheck.verdict/1", "id": "v1", "camera": "expo-1", "order_id": "42", "verdict": "mismatch",
           "missing": {"fries": 1}, "extra": {}, "video_t": 3.0, "at": "2026-11-25T12:00:00.000Z", "tray": 1}


def seeded_store(folder: Path) -> Store:
    """traycheck.db in ``folder``: viewer vera (viewer-pw), manager max (manager-pw), one mismatch."""
    store = Store(Path(folder) / "traycheck.db", outbox=False)
    Users(store.db).add("vera", "viewer", "viewer-pw")
    Users(store.db).add("max", "manager", "manager-pw")
    store.record_verdict(VERDICT, run="test")
    return store
