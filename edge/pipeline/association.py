"""Which order a tray on the station is checked against: its ticket's, else the nearest plausible
pending order; and what a ticket that turns up later takes back."""
from __future__ import annotations

import logging
from typing import Any

from edge.pipeline.checked_tray import CheckedTray
from edge.pipeline.nearest_order import close_orders, nearest_plausible_order, only_close_order, settle_identical
from edge.pipeline.params import PipelineParams
from edge.pipeline.verdicts import Association, VerdictKind
from orders.menu import Menu
from orders.registry import PendingOrder, StationOrders

log = logging.getLogger("traycheck.pipeline")

GUESSES_KEPT = 20  # orders given to ticketless trays that a later ticket may still take back
PASSED_KEPT = 100  # orders a ticketless tray could have been and left behind


class OrderAssociation:
    """One station's side of the order queue. Every change of an order's state goes through the
    queue (the registry and its store), never around it."""

    def __init__(self, camera: str, queue: StationOrders, params: PipelineParams):
        self.camera, self.queue, self.params = camera, queue, params
        self._guessed: dict[str, PendingOrder] = {}  # orders given to trays without a ticket, newest last
        self._passed: dict[str, None] = {}  # orders a ticketless tray was offered and left

    def associate(self, tray: CheckedTray, t: float, menu: Menu, lookalikes: tuple[tuple[str, str], ...]) -> bool:
        """Give ``tray`` its order if it can have one now (True: check it); else wait for the next frame.
        ``lookalikes``: the model's look-alike pairs, for a tray without a ticket."""
        if tray.ticket is not None:
            p = self.queue.get(tray.ticket)
            if p is None or not self.on_menu(p, menu):
                guessed = self._guessed.pop(tray.ticket, None)  # a ticket beats an earlier guess: reclaim it
                return guessed is not None and self._reclaim(tray, guessed, menu)  # (else: not sent yet, wait)
            tray.association = Association.QR
        else:
            p = self._nearest(tray, t, menu, lookalikes)
            if p is None:
                return False
            tray.association = Association.FIFO
            self._remember_guess(p)
        taken = self.queue.take(p.order.id)
        if taken is None:  # another station took it a moment ago: look again on the next frame
            tray.association = None
            self._guessed.pop(p.order.id, None)
            return False
        attach(tray, taken, menu)
        return True

    def _nearest(self, tray: CheckedTray, t: float, menu: Menu,
                 lookalikes: tuple[tuple[str, str], ...]) -> PendingOrder | None:
        """For a tray without a ticket (after it had its chance to show one): the nearest plausible order."""
        if tray.last_verdict is VerdictKind.NO_ORDER:
            return None  # only its ticket may still name an order: a later guess would take another tray's
        assert tray.rest_t is not None
        if t - tray.rest_t < self.params.ticket_wait_s and tray.ticket_tries < self.params.ticket_tries:
            return None
        pending = self._window(menu)
        seen = tray.counts or {}
        passed = {p.order.id for p in pending if p.order.id in self._passed}
        return (nearest_plausible_order(pending, menu, seen, self.params.plausible_errors, lookalikes, passed)
                or only_close_order(pending, menu, seen, passed))

    def _reclaim(self, tray: CheckedTray, p: PendingOrder, menu: Menu) -> bool:
        """``tray``'s ticket names an order an earlier ticketless tray was checked against: it is this
        tray's; an identical pending order was most likely the earlier tray's own."""
        self._guessed.pop(p.order.id, None)
        log.info("%s: order %s was guessed for an earlier tray; its ticket is here", self.camera, p.order.id)
        taken = settle_identical(self.queue, menu, p, self._window(menu))
        if taken is not None:
            self._remember_guess(taken)  # its own ticket may still claim it
            log.info("%s: order %s counts as served by the earlier tray (identical to %s)", self.camera,
                     taken.order.id, p.order.id)
        attach(tray, p, menu)
        tray.association = Association.QR
        return True

    def pass_over(self, tray: CheckedTray, menu: Menu) -> None:
        """A ticketless tray got no order: the pending orders it could have been (sent before it came
        to rest, sharing most of its items) are left behind for later trays (``nearest_plausible_order``)."""
        if tray.ticket is not None or tray.rest_t is None:
            return
        pending = [p for p in self.queue.pending()[: self.params.fifo_window] if p.received_t <= tray.rest_t]
        for p in close_orders(pending, menu, tray.counts or {}):
            self._passed[p.order.id] = None
        _trim(self._passed, PASSED_KEPT)

    def on_menu(self, p: PendingOrder, menu: Menu) -> bool:
        """Whether the menu knows every SKU of ``p``; if not, it is set aside (logged once), so an
        order the menu lost on a reload never fails a frame. The registry does this on reload too."""
        if all(sku in menu for sku, _ in p.order.lines()):
            return True
        for closed in self.queue.registry.set_aside(menu.__contains__):
            log.warning("%s: order %s %s", self.camera, closed.order.id, closed.reason)
        return False

    def _window(self, menu: Menu) -> list[PendingOrder]:
        return [q for q in self.queue.pending()[: self.params.fifo_window] if self.on_menu(q, menu)]

    def _remember_guess(self, p: PendingOrder) -> None:
        self._guessed[p.order.id] = p
        _trim(self._guessed, GUESSES_KEPT)


def attach(tray: CheckedTray, p: PendingOrder, menu: Menu) -> None:
    """Check ``tray`` against ``p`` from now on, by the menu of this moment: a reload that drops one
    of its SKUs later must not change (or fail) the verdict of a tray already associated."""
    tray.order, tray.expected = p, menu.expected(p.order.lines())


def _trim(kept: dict[str, Any], limit: int) -> None:
    while len(kept) > limit:
        kept.pop(next(iter(kept)))
