"""The database's timestamps: UTC as text that sorts as time (``2026-11-24T12:00:05.000000Z``)."""
from __future__ import annotations

from datetime import datetime, timezone


def stamp(moment: datetime) -> str:
    """``moment`` (UTC) in the stored format: comparisons in SQL are text comparisons."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utcnow() -> str:
    """Now, in the stored format."""
    return stamp(datetime.now(timezone.utc))
