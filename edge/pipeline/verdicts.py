"""Verdict records (contract section 4): one JSON object per tray decision."""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

SCHEMA = 1


class VerdictKind(StrEnum):
    """A verdict's kind (contract section 4). A member is its contract string, so records,
    MQTT payloads and database rows read exactly as before; stored rows come back as plain
    strings and compare equal to the members."""

    OK = "ok"
    MISMATCH = "mismatch"
    RESOLVED = "resolved"  # a mismatch fixed while the tray was still at the station
    NO_ORDER = "no_order"  # checked, but no POS order could be associated


class Association(StrEnum):
    """How a tray found its order: its QR ticket, the nearest plausible order (``fifo``), a ticket the POS
    never sent, none."""

    QR = "qr"
    FIFO = "fifo"
    QR_UNKNOWN = "qr-unknown"
    NONE = "none"


@dataclass
class Verdict:
    camera: str
    order_id: str | None
    verdict: VerdictKind
    missing: dict[str, int]
    extra: dict[str, int]
    video_t: float
    tray_seq: int  # n-th tray seen by this camera in this run
    at_unix: float = field(default_factory=time.time)  # when the box decided (the contract's `at` is whole seconds)
    confidence: float = 0.0
    seen: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    rest_t: float | None = None
    association: Association = Association.NONE
    run: str = ""  # which run of the camera (a replayed shift's name, or the service start): part of the id

    def __post_init__(self) -> None:
        self.verdict = VerdictKind(self.verdict)  # a plain contract string is accepted; anything else is refused
        self.association = Association(self.association)

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


BANNER = {VerdictKind.OK: (60, 170, 60), VerdictKind.RESOLVED: (60, 170, 60), VerdictKind.MISMATCH: (40, 40, 220),
          VerdictKind.NO_ORDER: (0, 160, 230)}


def banner_text(v: Verdict) -> str:
    """OK / MISSING 1 fries / WRONG: burger instead of cheeseburger / NO ORDER."""
    if v.verdict in (VerdictKind.OK, VerdictKind.RESOLVED):
        return f"#{v.order_id} OK" + (" (fixed)" if v.verdict == VerdictKind.RESOLVED else "")
    if v.verdict == VerdictKind.NO_ORDER:
        return "NO ORDER"
    missing = [f"{n} {c}" for c, n in sorted(v.missing.items())]
    extra = [f"{n} {c}" for c, n in sorted(v.extra.items())]
    if missing and extra:
        return f"#{v.order_id} WRONG: {', '.join(extra)} instead of {', '.join(missing)}"
    return f"#{v.order_id} " + (f"MISSING {', '.join(missing)}" if missing else f"EXTRA {', '.join(extra)}")
