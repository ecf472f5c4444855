"""The tray on a station, as the pipeline has checked it so far: its ticket, its counts, the
order it was matched to and the verdicts it got."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from edge.pipeline.verdicts import Association, Verdict, VerdictKind
from orders.registry import PendingOrder


@dataclass
class CheckedTray:
    seq: int
    rest_t: float | None = None
    ticket: str | None = None
    ticket_tries: int = 0
    counts: dict[str, int] | None = None
    confidence: float = 0.0
    order: PendingOrder | None = None
    expected: Counter[str] | None = None  # what ``order`` should show, by the menu it was associated under
    association: Association | None = None  # None: not associated yet
    last_verdict: VerdictKind | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    hold_until: float | None = None  # a first mismatch waiting for confirmation
