"""When a tray's counts against its order make a verdict: a first mismatch is held a moment
(a hand may still hide an item), a fixed mismatch is ``resolved``, and nothing is said twice."""
from __future__ import annotations

from dataclasses import dataclass

from edge.pipeline.checked_tray import CheckedTray
from edge.pipeline.verdicts import VerdictKind
from orders.matching import match


@dataclass(frozen=True)
class Decision:
    kind: VerdictKind
    missing: dict[str, int]
    extra: dict[str, int]


def decide(tray: CheckedTray, t: float, confirm_s: float, confirmed: bool = False) -> Decision | None:
    """The verdict ``tray`` gets now, or None (held, or nothing new to say). Sets or clears
    ``tray.hold_until``; ``confirmed``: the hold is over (its time came, or the tray left)."""
    assert tray.order is not None and tray.counts is not None and tray.expected is not None
    m = match(tray.expected, tray.counts)
    kind = VerdictKind.OK if m.ok else VerdictKind.MISMATCH
    if kind is VerdictKind.MISMATCH and tray.last_verdict is None and not confirmed and tray.rest_t is not None \
            and t < tray.rest_t + confirm_s:
        tray.hold_until = tray.rest_t + confirm_s  # the counts may still change
        return None
    tray.hold_until = None
    if tray.last_verdict is VerdictKind.MISMATCH and m.ok:
        kind = VerdictKind.RESOLVED
    elif tray.last_verdict in (VerdictKind.OK, VerdictKind.RESOLVED) and m.ok:
        return None
    elif tray.last_verdict is VerdictKind.MISMATCH and tray.verdicts and \
            (tray.verdicts[-1].missing, tray.verdicts[-1].extra) == (m.missing, m.extra):
        return None
    return Decision(kind, m.missing, m.extra)
