"""Connection limits under uvicorn: a cap, deadlines for the request head, a share kept for the POS.

uvicorn (its h11 protocol: httptools is not installed) never closes a connection that
sends nothing, lets a client drip its request head forever, and its
``limit_concurrency`` answers 503 but keeps idle sockets open: 1 050 idle connections
used up the process's 1 024 files and took the POS API and /healthz down. So each
connection is watched here, on the server's event loop:

* **cap**: at most ``cap`` connections. One more closes the connection that has waited
  longest for a request (idle keep-alive, or a head not complete yet); with none
  waiting, the newcomer gets 503 and is closed. A POS sends its request head as soon as
  it connects, so a flood of idle sockets evicts its own oldest, not the POS;
* **deadlines**: a complete request head within ``header_timeout`` of connecting and
  within ``keep_alive`` of the previous answer, however slowly the bytes drip in;
* **reserve**: requests other than the POS API and the probes (``PRIORITY``) hold at most
  ``cap - reserve`` connections at a time (more get 503), so a flooded dashboard (slow
  sign-in forms, many event streams) leaves ``reserve`` connections to the POS and probes.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from edge.web.limits import is_pos_path
from edge.web.quiet_log import Streak

log = logging.getLogger("traycheck.web")
PRIORITY = frozenset({"/healthz", "/readyz", "/metrics"})  # with the POS API: served from the reserve
REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
           b"content-length: 19\r\nconnection: close\r\nretry-after: 1\r\n\r\nService Unavailable")
ACCEPT_ERROR = "socket.accept() out of system resource"


def is_priority(path: str) -> bool:
    """The POS API and the health / metrics probes: these may use the reserved connections."""
    return is_pos_path(path) or path in PRIORITY


@dataclass(frozen=True)
class Limits:
    cap: int = 512
    header_timeout: float = 5.0  # seconds to send a complete request head after connecting
    keep_alive: float = 5.0  # ... and after the previous answer on a kept-alive connection

    @property
    def reserve(self) -> int:
        """Connections only the POS API and the probes may take: a tenth of the cap."""
        return max(1, self.cap // 10)


class ConnectionGuard:
    """The books of one server's connections: ``waiting`` (for a request head, oldest first) and ``busy``
    (a request in flight; True for one outside the reserve). Only the event loop's thread touches them."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.waiting: OrderedDict[GuardedH11Protocol, None] = OrderedDict()
        self.busy: dict[GuardedH11Protocol, bool] = {}
        self.others = 0  # busy requests outside the reserve
        self.closed = {"evicted": 0, "timed_out": 0, "refused": 0, "over_share": 0}
        self.at_cap = Streak(log, "HTTP connections at the cap (%s): closing the longest-waiting idle ones",
                             "HTTP connections below the cap again (%d new ones met the cap meanwhile)")
        self.over_share = Streak(log, "dashboard requests fill their share of connections (%s): answering 503",
                                 "dashboard requests below their share again (%d answered 503 meanwhile)")
        self.accept_errors = Streak(log, "the HTTP server cannot accept connections (%s); retrying",
                                    "the HTTP server accepts connections again (%d failed accepts meanwhile)",
                                    quiet_s=0.0)  # ends at the first accept (asyncio retries once a second)

    @property
    def open(self) -> int:
        return len(self.waiting) + len(self.busy)

    def admit(self, conn: GuardedH11Protocol) -> bool:
        """A new connection: True if it is kept (evicting the longest-waiting one at the cap)."""
        self.accept_errors.clear()
        if self.open >= self.limits.cap:
            self.at_cap.hit(self.limits.cap)
            victim = next(iter(self.waiting), None)
            if victim is None:
                self.closed["refused"] += 1
                return False
            self.closed["evicted"] += 1
            victim.drop()
        else:
            self.at_cap.clear()
        self.waiting[conn] = None
        return True

    def start(self, conn: GuardedH11Protocol, path: str) -> bool:
        """A request head is complete: False when it must get 503 (outside the reserve, share full)."""
        self.waiting.pop(conn, None)
        other = not is_priority(path)
        if other and self.others >= self.limits.cap - self.limits.reserve:
            self.closed["over_share"] += 1
            self.over_share.hit(self.limits.cap - self.limits.reserve)
            self.busy[conn] = False
            return False
        if other:
            self.over_share.clear()
        self.busy[conn] = other
        self.others += other
        return True

    def finish(self, conn: GuardedH11Protocol) -> None:
        """Answered: the connection waits for its next request (the youngest waiter)."""
        if conn in self.busy:  # (not one closed meanwhile)
            self.others -= self.busy.pop(conn)
            self.waiting[conn] = None

    def forget(self, conn: GuardedH11Protocol) -> None:
        """Closed (any number of times)."""
        self.waiting.pop(conn, None)
        self.others -= self.busy.pop(conn, False)

    def on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The event loop's exception handler: a failed ``accept()`` (EMFILE: asyncio reports it up to
        2 048 times a tick) is one line per streak; anything else goes to asyncio's handler."""
        if context.get("message") == ACCEPT_ERROR:
            self.accept_errors.hit(context.get("exception"))
        else:
            loop.default_exception_handler(context)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the ``guard``'s cap, deadlines and reserve (see the module's text)."""

    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._refuse = False
        self._app = self.app
        self.app = self._guarded_app

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(self):
            transport.write(REFUSED)
            transport.close()
            return
        self._wait(self.guard.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self.guard.forget(self)
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle and self in self.guard.waiting:  # a request head was completed
            self._cancel()
            self._refuse = not self.guard.start(self, self.scope["path"])

    def on_response_complete(self) -> None:
        if self.transport.is_closing():  # Connection: close
            self.guard.forget(self)
        else:  # before uvicorn's: that may start a pipelined request at once
            self.guard.finish(self)
            self._wait(self.guard.limits.keep_alive)
        super().on_response_complete()

    def drop(self) -> None:
        """Evicted at the cap: closed without an answer (it has asked nothing yet)."""
        self._cancel()
        self.guard.forget(self)
        self.transport.close()

    async def _guarded_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._refuse:
            await PlainTextResponse("Service Unavailable", 503, headers={"connection": "close", "retry-after": "1"})(
                scope, receive, send)
        else:
            await self._app(scope, receive, send)

    def _wait(self, seconds: float) -> None:
        self._cancel()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        """No complete request head in time: closed (slowly dripping bytes do not extend the deadline)."""
        self._deadline = None
        if self in self.guard.waiting and not self.transport.is_closing():
            self.guard.closed["timed_out"] += 1
            self.guard.forget(self)
            self.transport.close()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedH11Protocol]:
    """The protocol class to hand uvicorn (``Config(http=...)``), bound to this server's ``guard``."""
    return type("GuardedH11", (GuardedH11Protocol,), {"guard": guard})
