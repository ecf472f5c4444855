"""The appliance-wide health message: owns what is wrong now; judges no camera view (``camera_health``).

One retained MQTT state message (``traycheck/<site>/health``): what is wrong right now (storage,
cameras) and since when, published only when it changes."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any


def utcnow_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Health:
    def __init__(self, storage_problem: Callable[[], str | None], workers: Sequence[Any],
                 publish: Callable[[dict], None] | None):
        """``storage_problem``: the recorder's problem of the moment; ``workers``: the cameras
        (``state()``); ``publish``: the MQTT publisher's ``publish_health`` (None: no broker)."""
        self.storage_problem = storage_problem
        self.workers = workers
        self.publish_fn = publish
        self._storage_since: str | None = None
        self._key: str | None = None  # the problems last published
        self._lock = threading.Lock()

    def on_storage_problem(self, problem: str | None) -> None:
        """The recorder's callback (its writer thread) when storage fails or works again."""
        self._storage_since = utcnow_iso() if problem else None
        self.publish()

    def state(self) -> dict:
        problems: list[dict] = []
        storage = self.storage_problem()
        if storage:
            problems.append({"kind": "storage", "detail": storage, "since": self._storage_since})
        for w in self.workers:
            st = w.state()
            if st["state"] != "ok":
                problems.append({"kind": "camera", "camera": w.name, "detail": f"{st['state']}: {st['reason']}",
                                 "since": st["since"]})
        return {"state": "degraded" if problems else "ok", "problems": problems}

    def publish(self) -> None:
        """Publish the state if it changed (kinds, cameras, their states) since the last message."""
        if self.publish_fn is None:
            return
        with self._lock:
            h = self.state()
            key = repr([(p["kind"], p.get("camera"), p["detail"].split(":")[0] if p["kind"] == "camera"
                         else "failing") for p in h["problems"]])
            if key == self._key:
                return
            self._key = key
            self.publish_fn(dict(h, at=utcnow_iso()))
