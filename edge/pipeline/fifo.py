"""First in, first out with sense: which pending order a tray without a readable ticket gets."""
from __future__ import annotations

from orders.matching import match, mistakes
from orders.menu import Menu
from orders.registry import PendingOrder, StationOrders


def fifo_candidate(pending: list[PendingOrder], menu: Menu, seen: dict[str, int], plausible_errors: int,
                   clear_errors: int | None = None) -> tuple[PendingOrder, int] | None:
    """The pending order a tray showing ``seen`` most plausibly belongs to, and how many
    kitchen mistakes away it is.

    ``pending`` are the oldest pending orders, oldest first (orders can be sent well
    before their trays are made, so the oldest is not always the next one). The one
    fewest kitchen mistakes away from the tray wins, the older one on a tie; an exact
    fit is zero mistakes (two trays served swapped). A tray more than
    ``plausible_errors`` mistakes from every candidate gets no order rather than a
    stranger's: its own order was probably never sent, and the stranger's order stays
    for its own tray. Up to ``clear_errors`` mistakes are accepted from the one order
    clearly nearest (every other candidate further away): in a rush a kitchen does
    get three things wrong on one tray, and turning that tray away as "no order"
    left its order pending for a later tray with the same content to take (a cascade
    of wrong verdicts).
    """
    scored = sorted(((mistakes(match(menu.expected(p.order.lines()), seen)), i, p) for i, p in enumerate(pending)),
                    key=lambda s: (s[0], s[1]))  # fewest mistakes, then oldest
    if not scored:
        return None
    n, _, best = scored[0]
    clear = len(scored) == 1 or scored[1][0] > n
    if n <= plausible_errors or (clear_errors is not None and n <= clear_errors and clear):
        return best, n
    return None


def settle_identical(queue: StationOrders, menu: Menu, reclaimed: PendingOrder,
                     pending: list[PendingOrder]) -> PendingOrder | None:
    """A ticket took back an order FIFO had given an earlier tray. When an identical order is
    pending (among ``pending``), that one was the earlier tray's own (two identical orders are why
    the guess went wrong): take it off the queue, or it stays behind and FIFO hands it to a
    stranger later. Returns the order taken, if any."""
    want = menu.expected(reclaimed.order.lines())
    for q in pending:
        if menu.expected(q.order.lines()) == want:
            return queue.take(q.order.id)
    return None
