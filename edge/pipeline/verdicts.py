"""Verdict records (contract section 4): one JSON object per tray decision."""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

SCHEMA = 1


@dataclass
class Verdict:
    camera: str
    order_id: str | None
    verdict: str  # ok | mismatch | resolved | no_order
    missing: dict[str, int]
    extra: dict[str, int]
    video_t: float
    tray_seq: int  # n-th tray seen by this camera in this run
    at_unix: float = field(default_factory=time.time)  # when the box decided (the contract's `at` is whole seconds)
    confidence: float = 0.0
    seen: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    rest_t: float | None = None
    association: str = ""  # qr | fifo | none
    run: str = ""  # which run of the camera (a replayed shift's name, or the service start): part of the id

    @property
    def at(self) -> str:
        """Contract section 4: UTC, whole seconds."""
        return datetime.fromtimestamp(self.at_unix, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def id(self) -> str:
        """Stable across re-runs of the same shift: camera, tray number, decision kind, stream time."""
        key = f"{self.camera}|{self.run}|{self.tray_seq}|{self.verdict}|{self.video_t:.3f}"
        return hashlib.sha1(key.encode()).hexdigest()[:16]

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        return {"schema": SCHEMA, "id": self.id, **{k: d[k] for k in (
            "camera", "order_id", "verdict", "missing", "extra", "video_t")}, "at": self.at,
            "at_unix": round(self.at_unix, 3),
            "confidence": round(self.confidence, 3), "seen": self.seen, "expected": self.expected,
            "rest_t": None if self.rest_t is None else round(self.rest_t, 3), "association": self.association,
            "tray": self.tray_seq}
