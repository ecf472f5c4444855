"""The dashboard's login limit, and what every failed sign-in leaves behind (a metric, a log line, an audit row).

The limit counts failed sign-ins in the last ``window_s`` (5 minutes) per client address: at most
``per_account`` for one account from one address, and ``per_address`` for all accounts together from one
address. There is deliberately no limit per account alone, and none for all addresses together: those are
the ones an outsider can fill (50 made-up names from 10 addresses locked every member of staff out for
good), and a guesser is held by the per-address limits anyway. So a name that does not exist never
locks anyone, and staff at their own address always get their first try.

An attempt is reserved *before* the (slow) password check and counts as a failure until it succeeds, so
parallel guesses cannot all slip past the count; a right password forgives that account's failures
from that address. The failures are written through to the database (``edge.store.signin_failures``)
and read back at start, so a restart does not reset the limit; when the disk refuses the write the
limit goes on from memory (one log line per streak), never an error page.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from edge.store.signin_failures import SigninFailures

log = logging.getLogger("traycheck.signin")

REASONS = ("wrong_password", "unknown_user", "disabled", "limited")  # the label values of the metric


class Throttle:
    """A token bucket: ``burst`` events pass at once, then one every ``every_s``; what does not pass is
    counted (``held``), so the next one that passes can say how many were left out."""

    def __init__(self, burst: int, every_s: float, clock: Callable[[], float] = time.monotonic):
        self.burst, self.every_s, self.clock = burst, every_s, clock
        self._tokens = float(burst)
        self._at = clock()
        self.held = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """None when over budget (the event is counted in ``held``); else how many were held back
        since the last one that passed (and the count starts again)."""
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) / self.every_s)
            self._at = now
            if self._tokens < 1.0:
                self.held += 1
                return None
            self._tokens -= 1.0
            held, self.held = self.held, 0
            return held


class LoginLimiter:
    """Failed sign-ins per (account, client address) and per client address in ``window_s``; see the module."""

    def __init__(self, record: SigninFailures | None = None, per_account: int = 5, per_address: int = 10,
                 window_s: float = 300.0, max_clients: int = 10_000, clock: Callable[[], float] = time.time):
        """``record``: the database table the failures are kept in across restarts (None: memory only).
        ``max_clients``: addresses remembered at most (the least recently seen are forgotten first).
        ``clock``: wall time (unix seconds), so that stored failures mean the same after a restart."""
        self.record = record
        self.per_account, self.per_address, self.window_s = per_account, per_address, window_s
        self.max_clients, self.clock = max_clients, clock
        self._clients: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()  # client -> (at, account)
        self._lock = threading.Lock()
        self._record_failing = False
        if record is not None:
            self._load(record)

    def _load(self, record: SigninFailures) -> None:
        """The failures of the last window from the database (a restart keeps the limit)."""
        now = self.clock()
        try:
            rows = record.recent(now - self.window_s)
        except (sqlite3.Error, OSError) as exc:
            self._record_problem(exc)
            return
        for account, client, at in rows:
            if at <= now + self.window_s:  # a row from a clock far ahead would hold a client forever
                self._clients.setdefault(client, deque()).append((at, account))
                self._clients.move_to_end(client)
        self._trim()

    def _recent(self, client: str, now: float) -> deque[tuple[float, str]]:
        """This client's failures within the window (older ones dropped; an empty deque is not kept)."""
        q = self._clients.get(client)
        if q is None:
            return deque()
        while q and not -self.window_s <= now - q[0][0] <= self.window_s:
            q.popleft()
        if not q:
            del self._clients[client]
        return q

    def _trim(self) -> None:
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)

    def reserve(self, account: str, client: str) -> float:
        """Reserve one attempt of ``account`` from ``client``: 0.0 when granted (it counts as a failure
        until ``succeeded``), else the seconds to wait (at least 1)."""
        account, now = account.casefold(), self.clock()
        with self._lock:
            q = self._recent(client, now)
            mine = [at for at, name in q if name == account]
            waits = []
            if len(q) >= self.per_address:
                waits.append(self.window_s - (now - q[0][0]))
            if len(mine) >= self.per_account:
                waits.append(self.window_s - (now - mine[0]))
            if waits:
                return min(max(max(waits), 1.0), self.window_s)
            q.append((now, account))
            self._clients[client] = q
            self._clients.move_to_end(client)
            self._trim()
        self._write(lambda r: r.add(account, client, now, forget_before=now - self.window_s))
        return 0.0

    def succeeded(self, account: str, client: str) -> None:
        """A right password: this account's failures from this client are forgiven (the client's
        failures with other names still count)."""
        account = account.casefold()
        with self._lock:
            q = self._clients.get(client)
            if q is not None:
                kept = deque(e for e in q if e[1] != account)
                if kept:
                    self._clients[client] = kept
                else:
                    del self._clients[client]
        self._write(lambda r: r.forgive(account, client))

    def _write(self, op: Callable[[SigninFailures], None]) -> None:
        """Write through to the database; on a storage error go on from memory (logged once per streak)."""
        if self.record is None:
            return
        try:
            op(self.record)
        except (sqlite3.Error, OSError) as exc:
            self._record_problem(exc)
            return
        with self._lock:
            was_failing, self._record_failing = self._record_failing, False
        if was_failing:
            log.info("login limit: failed sign-ins are stored again")

    def _record_problem(self, exc: BaseException) -> None:
        with self._lock:
            first, self._record_failing = not self._record_failing, True
        if first:
            log.warning("login limit: failed sign-ins are kept in memory only (storage: %s); a restart now "
                        "would forget them", exc)


class FailedSignins:
    """Every failed sign-in is counted by reason (``traycheck_signin_failed_total``); it is also logged and
    written to the audit log (actor: the client address), at most ``burst`` at once and then one every
    ``every_s``, so that a flood is counted but cannot fill the disk. The next row written says how many
    were left out before it (``not_written_before``)."""

    def __init__(self, audit: Callable[[str, str, str | None, dict], Any] | None, burst: int = 20,
                 every_s: float = 30.0):
        """``audit``: ``Store.audit`` (actor, action, target, detail); None: log lines only."""
        self.audit = audit
        self.counts = dict.fromkeys(REASONS, 0)
        self._throttle = Throttle(burst, every_s)
        self._lock = threading.Lock()
        self._quiet = False  # over budget: the flood was announced once
        self._audit_failing = False

    def __call__(self, client: str, account: str | None, reason: str) -> None:
        """One failed sign-in from ``client``; ``account`` only when it names a real user (a made-up
        name may be a password typed into the wrong field: it is not written anywhere)."""
        with self._lock:
            self.counts[reason] = self.counts.get(reason, 0) + 1
        held = self._throttle.take()
        with self._lock:
            announce, self._quiet = held is None and not self._quiet, held is None
        if held is None:
            if announce:
                log.warning("failed sign-ins are coming faster than the log takes them: the next ones are "
                            "counted in traycheck_signin_failed_total only, until they slow down")
            return
        detail: dict[str, Any] = {"reason": reason}
        if held:
            detail["not_written_before"] = held
        log.warning("sign-in failed from %s: %s%s%s", client, reason, f" (user {account})" if account else "",
                    f"; {held} more before this one were not logged one by one" if held else "")
        if self.audit is not None:
            try:
                self.audit(client, "sign-in failed", account, detail)
            except (sqlite3.Error, OSError) as exc:
                with self._lock:
                    first, self._audit_failing = not self._audit_failing, True
                if first:
                    log.warning("failed sign-ins cannot be written to the audit log (storage: %s)", exc)
                return
            with self._lock:
                self._audit_failing = False


class SigninCollector(Collector):
    """``traycheck_signin_failed_total{reason}`` at scrape time, every reason even at 0 (a rate can start at once)."""

    def __init__(self, failures: FailedSignins):
        self.failures = failures

    def collect(self) -> Iterator[CounterMetricFamily]:
        c = CounterMetricFamily("traycheck_signin_failed", "Failed dashboard sign-ins, by reason (wrong_password, "
                                "unknown_user, disabled, limited: refused by the login limit, 429)", labels=["reason"])
        for reason in REASONS:
            c.add_metric([reason], self.failures.counts.get(reason, 0))
        yield c
