"""The nearest plausible order: which pending order a tray without a readable ticket gets.

(The contract calls this association ``fifo``; it is oldest-first only on a tie.)"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from orders.matching import match, mistakes
from orders.menu import Menu
from orders.registry import PendingOrder, StationOrders


def nearest_plausible_order(pending: list[PendingOrder], menu: Menu, seen: dict[str, int], plausible_errors: int,
                            lookalikes: Iterable[tuple[str, str]],
                            passed: frozenset[str] | set[str] = frozenset()) -> PendingOrder | None:
    """The pending order a tray showing ``seen`` most plausibly belongs to.

    ``pending`` are the oldest pending orders, oldest first (orders can be sent well
    before their trays are made, so the oldest is not always the next one). The one
    fewest kitchen mistakes away from the tray wins, the older one on a tie; an exact
    fit is zero mistakes (two trays served swapped). A tray more than
    ``plausible_errors`` mistakes from every candidate gets no order rather than a
    stranger's: its own order was probably never sent, and the stranger's order stays
    for its own tray. ``lookalikes``: the model's pairs (a swap within one is one mistake).

    ``passed``: orders an earlier ticketless tray could have been (``close_orders``) but
    did not take (two were close: it got ``no_order``). Such an order is most likely that
    earlier tray's own, miscounted, so it is left behind: a later tray takes it only when
    no order that was not passed over is plausible, or one miscount would pull every
    later tray onto the order before its own.
    """
    best: tuple[tuple[bool, int], PendingOrder] | None = None
    pairs = tuple(lookalikes)
    for p in pending:  # oldest first: ties keep the older
        n = mistakes(match(menu.expected(p.order.lines()), seen), pairs)
        key = (p.order.id in passed, n)
        if n <= plausible_errors and (best is None or key < best[0]):
            best = (key, p)
    return best[1] if best else None


def shares_most(want: Mapping[str, int], seen: Mapping[str, int]) -> bool:
    """Whether an order expecting ``want`` and a tray showing ``seen`` have at least half
    of each other's items in common: a miscount of that order, not another tray's food."""
    m = match(want, seen)
    shared = sum(want.values()) - sum(m.missing.values())
    return shared > 0 and 2 * shared >= max(sum(want.values()), sum(seen.values()))


def only_close_order(pending: list[PendingOrder], menu: Menu, seen: dict[str, int],
                     passed: frozenset[str] | set[str] = frozenset()) -> PendingOrder | None:
    """The one pending order a tray beyond ``nearest_plausible_order``'s reach still plausibly shows.

    A ticketless tray miscounted by more than the plausible mistakes (a real tray the
    detector half misses) is checked against its order when exactly one pending order,
    not left behind by an earlier tray (``passed``), shares at least half its items
    with the tray (``shares_most``): the mismatch names the differences, and the order
    does not stay behind to pull the next tray onto it. With two such orders nothing
    tells which, and with none the tray's own order was most likely never sent: the
    tray gets ``no_order`` and the pending orders stay as they were.
    """
    close = [p for p in pending if p.order.id not in passed and shares_most(menu.expected(p.order.lines()), seen)]
    return close[0] if len(close) == 1 else None


def close_orders(pending: list[PendingOrder], menu: Menu, seen: dict[str, int]) -> list[PendingOrder]:
    """The pending orders sharing most of their items with ``seen`` (``shares_most``)."""
    return [p for p in pending if shares_most(menu.expected(p.order.lines()), seen)]


def settle_identical(queue: StationOrders, menu: Menu, reclaimed: PendingOrder,
                     pending: list[PendingOrder]) -> PendingOrder | None:
    """A ticket took back an order an earlier ticketless tray had been given. When an identical order is
    pending (among ``pending``), that one was the earlier tray's own (two identical orders are why
    the guess went wrong): take it off the queue, or it stays behind and is handed to a
    stranger later. Returns the order taken, if any."""
    want = menu.expected(reclaimed.order.lines())
    for q in pending:
        if menu.expected(q.order.lines()) == want:
            return queue.settle(q.order.id, f"served: an earlier tray was checked against the identical order "
                                            f"{reclaimed.order.id} (its own ticket took that one back)")
    return None
