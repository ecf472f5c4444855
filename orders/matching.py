"""Compare what an order expects with what is seen on the tray.

Only visual classes take part: SKUs that put nothing visible on the tray
(KETCHUP) are not checked, and a class neither expected nor seen is ignored.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MatchResult:
    missing: dict[str, int]
    extra: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra

    @property
    def verdict(self) -> str:
        return "ok" if self.ok else "mismatch"


def match(expected: Mapping[str, int], seen: Mapping[str, int]) -> MatchResult:
    """Per-class ``missing`` (expected but not seen) and ``extra`` (seen, not expected)."""
    exp, got = Counter(expected), Counter(seen)
    missing = {k: exp[k] - got[k] for k in sorted(exp) if exp[k] > got[k]}
    extra = {k: got[k] - exp[k] for k in sorted(got) if got[k] > exp[k]}
    return MatchResult(missing, extra)
