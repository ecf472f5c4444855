"""Compare what an order expects with what is seen on the tray.

Only visual classes take part: SKUs that put nothing visible on the tray
(KETCHUP) are not checked, and a class neither expected nor seen is ignored.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MatchResult:
    missing: dict[str, int]
    extra: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra


def match(expected: Mapping[str, int], seen: Mapping[str, int]) -> MatchResult:
    """Per-class ``missing`` (expected but not seen) and ``extra`` (seen, not expected)."""
    exp, got = Counter(expected), Counter(seen)
    missing = {k: exp[k] - got[k] for k in sorted(exp) if exp[k] > got[k]}
    extra = {k: got[k] - exp[k] for k in sorted(got) if got[k] > exp[k]}
    return MatchResult(missing, extra)


def mistakes(m: MatchResult, lookalikes: Iterable[tuple[str, str]]) -> int:
    """How many kitchen mistakes explain a mismatch: each missing or extra item is one, but a
    look-alike handed out instead of the ordered item (cheeseburger for burger) is one in all.

    ``lookalikes``: the pairs the active model's metadata names (its classes are the model's, so
    which of them look alike is the model's to say too, never a list kept here)."""
    missing, extra = Counter(m.missing), Counter(m.extra)
    swaps = 0
    for pair in lookalikes:
        a, b = sorted(pair)
        for x, y in ((a, b), (b, a)):
            n = min(missing[x], extra[y])
            swaps += n
            missing[x] -= n
            extra[y] -= n
    return swaps + sum(missing.values()) + sum(extra.values())
