"""Bookkeeping of what paho holds for us and which of it the broker acknowledged.

paho's network thread only appends the acknowledged message id (``mid``) to a
queue; everything else (matching, deleting delivered outbox rows in one
transaction) happens on the drain thread. That is also what makes the 16-bit
``mid`` wrap harmless: a PUBACK can never be matched before the ``publish()``
call that owns its mid has returned (both happen on the drain thread, in that
order), so no "early ack" has to be remembered, and every batch of acks is
consumed before the next batch of publishes (at most ``max_inflight``), far
fewer than the 65535 mids it would take for a stale ack to meet a new message
with the same mid.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Hashable
from typing import Protocol


class PublishInfo(Protocol):
    """What we use of paho's ``MQTTMessageInfo``."""

    mid: int

    def is_published(self) -> bool: ...


class AckBook:
    """Messages handed to paho (key -> its publish info), in hand-over order."""

    def __init__(self) -> None:
        self._acked: deque[int] = deque()  # mids from on_publish; deque append/popleft are thread-safe
        self._held: dict[Hashable, tuple[PublishInfo, float]] = {}

    # -- paho's network thread ---------------------------------------------------
    def on_ack(self, mid: int) -> None:
        """A PUBACK arrived (paho's thread): only note it, no I/O here."""
        self._acked.append(mid)

    # -- the drain thread ----------------------------------------------------------
    def hand(self, key: Hashable, info: PublishInfo) -> None:
        """``publish()`` returned ``info`` for ``key``; paho holds it (and resends it after a reconnect)."""
        self._held[key] = (info, time.monotonic())

    def holds(self, key: Hashable) -> bool:
        return key in self._held

    def __len__(self) -> int:
        return len(self._held)

    def collect(self) -> list[Hashable]:
        """Keys acknowledged since the last call, in hand-over order; they are no longer held."""
        mids: set[int] = set()
        while self._acked:
            mids.add(self._acked.popleft())
        if not mids:
            return []
        done = [k for k, (info, _) in self._held.items() if info.mid in mids]
        for k in done:
            del self._held[k]
        return done

    def unacked(self) -> int:
        """Held messages whose PUBACK has not arrived yet (safe to read from any thread)."""
        return sum(not info.is_published() for info, _ in list(self._held.values()))

    def forget(self, key: Hashable) -> None:
        """Stop waiting for ``key`` (it will be handed over again)."""
        self._held.pop(key, None)

    def overdue(self, age_s: float) -> list[Hashable]:
        """Outbox keys (strings) held longer than ``age_s`` without an acknowledgement."""
        now = time.monotonic()
        return [k for k, (_, t) in self._held.items() if now - t > age_s and isinstance(k, str)]
