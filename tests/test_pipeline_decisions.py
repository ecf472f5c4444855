"""The pipeline's decision parts, each on its own through its public interface, on hand-made trays and
orders: which order a tray is checked against (``OrderAssociation`` over ``nearest_order``) and which
verdict its counts make (``verdict_rules.decide``). No video, no detector."""
from __future__ import annotations

from collections import Counter

import pytest

from edge.pipeline.association import OrderAssociation
from edge.pipeline.checked_tray import CheckedTray
from edge.pipeline.nearest_order import shares_most
from edge.pipeline.params import PipelineParams
from edge.pipeline.verdict_rules import Decision, decide
from edge.pipeline.verdicts import Verdict, VerdictKind
from orders.menu import load_menu
from orders.models import Order
from orders.queue import OrderQueue
from orders.registry import PendingOrder

MENU = load_menu(None)
PARAMS = PipelineParams()
NO_PAIRS: tuple[tuple[str, str], ...] = ()  # the model's look-alike pairs: none here (tests/test_lookalikes.py)


def order(order_id: str, **skus: int) -> Order:
    return Order(id=order_id, items=[{"sku": k, "qty": n} for k, n in skus.items()])


def queue_of(*orders: Order) -> OrderQueue:
    q = OrderQueue()
    for i, o in enumerate(orders):
        q.add(o, 0.1 * i)
    return q


def counted(seq: int = 1, ticket: str | None = None, rest_t: float = 1.0, **seen: int) -> CheckedTray:
    """A tray at rest since ``rest_t`` whose counts are in; ticketless ones have used up their tries."""
    return CheckedTray(seq, rest_t=rest_t, ticket=ticket, counts=seen,
                       ticket_tries=0 if ticket else PARAMS.ticket_tries)


# -- OrderAssociation: a ticket ------------------------------------------------------------------
def test_a_ticket_takes_its_own_order_not_the_oldest():
    q = queue_of(order("6", FRIES=1), order("7", BURGER_MEAL=1))
    tray = counted(ticket="7", burger=1, fries=1, drink=1)
    assert OrderAssociation("expo-1", q, PARAMS).associate(tray, 1.0, MENU, NO_PAIRS)
    assert tray.order is not None and tray.order.order.id == "7" and tray.association == "qr"
    assert tray.expected == Counter(burger=1, fries=1, drink=1)
    assert [p.order.id for p in q.pending()] == ["6"]


def test_a_ticket_whose_order_is_not_sent_yet_waits_and_takes_no_other():
    q = queue_of(order("6", BURGER_MEAL=1))
    tray = counted(ticket="8", burger=1, fries=1, drink=1)
    assert not OrderAssociation("expo-1", q, PARAMS).associate(tray, 9.0, MENU, NO_PAIRS)
    assert tray.order is None and tray.association is None and "6" in q


def test_an_order_the_menu_does_not_know_is_set_aside_and_never_checked(tmp_path):
    (tmp_path / "menu.yaml").write_text("include_default: false\nskus:\n  BURGER: [burger]\n")
    menu = load_menu(tmp_path / "menu.yaml")
    q = queue_of(order("5", WRAP=1))
    tray = counted(ticket="5", wrap=1)
    assert not OrderAssociation("expo-1", q, PARAMS).associate(tray, 1.0, menu, NO_PAIRS)
    assert tray.order is None and "5" not in q


# -- OrderAssociation: no ticket, the nearest plausible order ---------------------------------------
def test_a_ticketless_tray_waits_for_its_ticket_while_tries_and_time_are_left():
    q = queue_of(order("1", BURGER=1))
    tray = counted(burger=1)
    tray.ticket_tries = PARAMS.ticket_tries - 1
    orders = OrderAssociation("expo-1", q, PARAMS)
    assert not orders.associate(tray, 1.0 + PARAMS.ticket_wait_s / 2, MENU, NO_PAIRS) and tray.order is None
    assert orders.associate(tray, 1.0 + PARAMS.ticket_wait_s, MENU, NO_PAIRS)  # waited long enough
    assert tray.order is not None and tray.order.order.id == "1" and tray.association == "fifo"


def test_a_ticketless_tray_gets_the_nearest_plausible_order_the_older_one_on_a_tie():
    q = queue_of(order("1", BURGER_MEAL=1), order("2", CHICKEN_MEAL=1), order("3", CHICKEN_MEAL=1))
    orders = OrderAssociation("expo-1", q, PARAMS)
    chicken = counted(chicken_sandwich=1, fries=1, drink=1)
    assert orders.associate(chicken, 2.0, MENU, NO_PAIRS)
    assert chicken.order is not None and chicken.order.order.id == "2"  # exact, and older than 3
    near = counted(seq=2, burger=1, fries=1)  # one mistake from order 1, three from order 3
    assert orders.associate(near, 2.0, MENU, NO_PAIRS)
    assert near.order is not None and near.order.order.id == "1" and [p.order.id for p in q.pending()] == ["3"]


def test_a_ticketless_tray_far_from_every_order_gets_none_of_them():
    q = queue_of(order("1", BURGER_MEAL=1))
    tray = counted(nuggets=2, salad=1)
    assert not OrderAssociation("expo-1", q, PARAMS).associate(tray, 2.0, MENU, NO_PAIRS)
    assert tray.order is None and "1" in q


def test_a_tray_that_got_no_order_takes_none_later_without_its_ticket():
    q = queue_of(order("1", BURGER=1))
    tray = counted(burger=1)
    tray.last_verdict = VerdictKind.NO_ORDER
    assert not OrderAssociation("expo-1", q, PARAMS).associate(tray, 9.0, MENU, NO_PAIRS) and "1" in q


def test_shares_most_is_half_of_each_others_items():
    assert shares_most({"burger": 1, "fries": 1, "drink": 1}, {"burger": 1, "fries": 1, "wrap": 1})
    assert not shares_most({"burger": 1, "fries": 1, "drink": 1}, {"burger": 1, "wrap": 2})
    assert not shares_most({"burger": 1}, {})


# -- OrderAssociation: a ticket taking back a guess ------------------------------------------------
def test_a_ticket_takes_back_its_order_from_an_earlier_ticketless_tray_and_the_identical_order_is_settled():
    """Two identical orders: the ticketless tray got the older (its ticket later names it); the other
    identical one was most likely that tray's own, so it is settled rather than left for a stranger."""
    q = queue_of(order("1", BURGER=1), order("2", BURGER=1), order("3", FRIES=1))
    orders = OrderAssociation("expo-1", q, PARAMS)
    first = counted(burger=1)
    assert orders.associate(first, 2.0, MENU, NO_PAIRS) and first.order is not None and first.order.order.id == "1"
    second = counted(seq=2, ticket="1", rest_t=5.0, burger=1)
    assert orders.associate(second, 5.0, MENU, NO_PAIRS)
    assert second.order is not None and second.order.order.id == "1" and second.association == "qr"
    assert [p.order.id for p in q.pending()] == ["3"]  # 2 counts as served by the first tray


def test_a_ticket_taking_back_a_guess_with_no_identical_order_settles_nothing():
    q = queue_of(order("1", BURGER=1), order("2", CHEESEBURGER=1))
    orders = OrderAssociation("expo-1", q, PARAMS)
    assert orders.associate(counted(burger=1), 2.0, MENU, NO_PAIRS)
    second = counted(seq=2, ticket="1", rest_t=5.0, burger=1)
    assert orders.associate(second, 5.0, MENU, NO_PAIRS) and [p.order.id for p in q.pending()] == ["2"]


# -- verdict_rules.decide ------------------------------------------------------------------------
def checked(expected: dict[str, int], rest_t: float = 1.0, **seen: int) -> CheckedTray:
    """A tray at rest since ``rest_t`` with its counts and its order (expecting ``expected``)."""
    p = PendingOrder(order("5", BURGER=1), 0.0)  # (the order's lines do not matter: ``expected`` does)
    return CheckedTray(1, rest_t=rest_t, counts=seen, order=p, expected=Counter(expected))


def said(tray: CheckedTray, d: Decision | None, t: float) -> Decision | None:
    """Record ``d`` on the tray as the pipeline does when it emits it."""
    if d is not None:
        tray.last_verdict = d.kind
        tray.verdicts.append(Verdict("expo-1", "5", d.kind, d.missing, d.extra, t, 1))
    return d


CONFIRM = PARAMS.mismatch_confirm_s
MEAL = {"burger": 1, "fries": 1, "drink": 1}


def test_a_tray_matching_its_order_is_ok_at_once():
    tray = checked(MEAL, burger=1, fries=1, drink=1)
    assert decide(tray, 1.1, CONFIRM) == Decision(VerdictKind.OK, {}, {}) and tray.hold_until is None


@pytest.mark.parametrize("seen, missing, extra", [
    ({"burger": 1, "fries": 1}, {"drink": 1}, {}),
    ({"burger": 1, "fries": 1, "drink": 2}, {}, {"drink": 1}),
    ({"cheeseburger": 1, "fries": 1, "drink": 1}, {"burger": 1}, {"cheeseburger": 1}),  # a look-alike swap
])
def test_a_first_mismatch_is_held_then_names_what_is_missing_and_extra(seen, missing, extra):
    tray = checked(MEAL, **seen)
    assert decide(tray, 1.1, CONFIRM) is None and tray.hold_until == pytest.approx(1.0 + CONFIRM)
    assert decide(tray, 1.0 + CONFIRM, CONFIRM) == Decision(VerdictKind.MISMATCH, missing, extra)
    assert tray.hold_until is None


def test_a_held_mismatch_is_said_early_when_confirmed_and_dropped_when_the_counts_come_right():
    tray = checked(MEAL, burger=1, fries=1)
    assert decide(tray, 1.1, CONFIRM) is None
    assert decide(tray, 1.2, CONFIRM, confirmed=True) == Decision(VerdictKind.MISMATCH, {"drink": 1}, {})
    hidden = checked(MEAL, burger=1, fries=1)
    assert decide(hidden, 1.1, CONFIRM) is None
    hidden.counts = dict(MEAL)  # the hand moved away: the drink was there all along
    assert decide(hidden, 1.2, CONFIRM) == Decision(VerdictKind.OK, {}, {}) and hidden.hold_until is None


def test_after_a_mismatch_a_fix_is_resolved_and_nothing_is_said_twice():
    tray = checked(MEAL, burger=1, fries=1)
    assert said(tray, decide(tray, 2.0, CONFIRM), 2.0) == Decision(VerdictKind.MISMATCH, {"drink": 1}, {})
    assert decide(tray, 2.5, CONFIRM) is None  # the same mismatch again
    tray.counts = {"burger": 1}
    assert said(tray, decide(tray, 3.0, CONFIRM), 3.0) == Decision(VerdictKind.MISMATCH, {"drink": 1, "fries": 1}, {})
    tray.counts = dict(MEAL)
    assert said(tray, decide(tray, 4.0, CONFIRM), 4.0) == Decision(VerdictKind.RESOLVED, {}, {})
    assert decide(tray, 5.0, CONFIRM) is None  # still right: said already


def test_after_an_ok_a_later_mismatch_is_said_at_once():
    tray = checked(MEAL, burger=1, fries=1, drink=1)
    said(tray, decide(tray, 1.1, CONFIRM), 1.1)
    assert decide(tray, 1.2, CONFIRM) is None
    tray.counts = {"burger": 1, "fries": 1}  # a worker took the drink off
    assert decide(tray, 1.3, CONFIRM) == Decision(VerdictKind.MISMATCH, {"drink": 1}, {})
