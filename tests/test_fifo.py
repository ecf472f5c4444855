"""FIFO association of trays without a readable ticket (edge.pipeline.fifo and the camera
pipeline's use of it): the cases `rush-hard` showed wrong, each on its own, driven by tray
events so that only the association logic is under test."""
from __future__ import annotations

import numpy as np
import pytest

from detectors.loader import load_detector
from edge.pipeline.fifo import fifo_candidate
from edge.pipeline.tray import TrayEvent
from orders.menu import Menu, load_menu
from orders.models import Order
from orders.queue import OrderQueue
from orders.registry import PendingOrder


@pytest.fixture(scope="module")
def detector():
    return load_detector(None, "fp32", threads=1)


def pending(*orders: tuple[str, list[tuple[str, int]]]) -> list[PendingOrder]:
    return [PendingOrder(Order(id=oid, items=[{"sku": s, "qty": q} for s, q in lines]), float(i))
            for i, (oid, lines) in enumerate(orders)]


def test_a_tray_three_mistakes_from_the_one_clearly_nearest_order_gets_it():
    """Three kitchen mistakes on one tray happen in a rush: when no other pending order is as
    near, the tray is that order's (a mismatch), not `no_order` (which left the order pending
    for a later tray with the same content: a cascade)."""
    menu = Menu()
    seen = {"fries": 2}  # BURGER_MEAL: burger and drink missing, one fries extra = 3 mistakes
    orders = pending(("1", [("SALAD", 1), ("DRINK", 1)]), ("2", [("BURGER_MEAL", 1)]))
    found = fifo_candidate(orders, menu, seen, plausible_errors=2, clear_errors=3)
    assert found is not None and (found[0].order.id, found[1]) == ("2", 3)
    assert fifo_candidate(orders, menu, seen, plausible_errors=2) is None  # the old rule: no order
    # Another order as near: not clear which one, so no order (a stranger's would be a guess)
    tied = pending(("1", [("BURGER_MEAL", 1)]), ("2", [("CHICKEN_MEAL", 1)]))
    assert fifo_candidate(tied, menu, seen, plausible_errors=2, clear_errors=3) is None
    # Four mistakes stay too many even from the only order
    assert fifo_candidate(pending(("3", [("NUGGET_MEAL", 1)])), menu, {"salad": 1}, 2, 3) is None


def test_within_plausible_errors_the_nearest_wins_and_the_older_on_a_tie():
    menu = Menu()
    orders = pending(("1", [("BURGER_MEAL", 1)]), ("2", [("CHEESEBURGER_MEAL", 1)]),
                     ("3", [("CHEESEBURGER_MEAL", 1)]))
    found = fifo_candidate(orders, menu, {"cheeseburger": 1, "fries": 1, "drink": 1}, 2, 3)
    assert found is not None and (found[0].order.id, found[1]) == ("2", 0)
    found = fifo_candidate(orders, menu, {"cheeseburger": 1, "fries": 1}, 2, 3)
    assert found is not None and (found[0].order.id, found[1]) == ("2", 1)


def _ticketless_tray(detector, queue: OrderQueue, seen: dict[str, int], out: list):
    from edge.pipeline.camera import CameraPipeline

    pipe = CameraPipeline("expo-1", detector, load_menu(None), queue, lambda v, p: out.append(v))
    counts = np.zeros(len(detector.classes), dtype=int)
    for cls, n in seen.items():
        counts[detector.classes.index(cls)] = n
    for ev in (TrayEvent("arrived", 1.0), TrayEvent("rest", 2.0), TrayEvent("counts", 2.2, counts, 0.9)):
        pipe._on_event(ev, None)
    return pipe


def test_fifo_waits_for_an_exact_fit_before_guessing_a_mismatch(detector):
    """POS messages come late: a ticketless tray showing a cheeseburger meal, with only a burger
    meal pending, waits (``fifo_exact_wait_s``) for its own order rather than calling the burger
    meal's tray wrong; the burger meal stays for its own tray."""
    queue = OrderQueue()
    queue.add(Order(id="60", items=[{"sku": "BURGER_MEAL", "qty": 1}]), 0.0)
    out: list = []
    pipe = _ticketless_tray(detector, queue, {"cheeseburger": 1, "fries": 1, "drink": 1}, out)
    for t in (2.3, 2.6, 2.7):  # ticket wait (0.6 s) over, no exact fit yet
        pipe._associate(t)
    assert out == [] and pipe.tray.order is None
    queue.add(Order(id="61", items=[{"sku": "CHEESEBURGER_MEAL", "qty": 1}]), 2.75)
    pipe._associate(2.8)
    assert [(v.verdict, v.order_id, v.association) for v in out] == [("ok", "61", "fifo")]
    assert "60" in queue


def test_without_an_exact_fit_fifo_still_guesses_after_the_wait(detector):
    queue = OrderQueue()
    queue.add(Order(id="60", items=[{"sku": "BURGER_MEAL", "qty": 1}]), 0.0)
    out: list = []
    pipe = _ticketless_tray(detector, queue, {"cheeseburger": 1, "fries": 1, "drink": 1}, out)
    for t in (2.6, 2.8):
        pipe._associate(t)
    assert out == []
    pipe._associate(2.05 + pipe.params.fifo_exact_wait_s)
    assert [(v.verdict, v.order_id, v.missing, v.extra) for v in out] == \
        [("mismatch", "60", {"burger": 1}, {"cheeseburger": 1})]


def test_fifo_leaves_a_passed_over_order_to_its_ticket(detector):
    """An order that six orders sent after it were served past is stale: its tray most likely went
    by unmatched. A ticketless tray showing its content gets the fresh identical order instead (the
    stale one handed to it made a cascade of wrong verdicts on rush-hard); a ticket still claims
    the stale one."""
    from edge.pipeline.camera import CameraPipeline

    queue = OrderQueue()
    queue.add(Order(id="50", items=[{"sku": "BURGER_MEAL", "qty": 1}]), 0.0)
    out: list = []
    pipe = CameraPipeline("expo-1", detector, load_menu(None), queue, lambda v, p: out.append(v))
    nuggets = np.zeros(len(detector.classes), dtype=int)
    nuggets[detector.classes.index("nuggets")] = 1

    def tray(t: float, counts: np.ndarray, ticket: str | None) -> None:
        for ev in (TrayEvent("arrived", t), TrayEvent("rest", t + 1), TrayEvent("counts", t + 1.2, counts, 0.9)):
            pipe._on_event(ev, None)
        pipe.tray.ticket = ticket
        for dt in (1.3, 2.0, 2.5):
            pipe._associate(t + dt)
        pipe._on_event(TrayEvent("left", t + 3), None)

    for k in range(pipe.params.fifo_stale_after):  # served by their tickets, all sent after "50"
        queue.add(Order(id=f"5{k + 1}", items=[{"sku": "NUGGETS", "qty": 1}]), 1.0 + k)
        tray(10.0 + 5 * k, nuggets, f"5{k + 1}")
    queue.add(Order(id="58", items=[{"sku": "BURGER_MEAL", "qty": 1}]), 40.0)
    meal = np.zeros(len(detector.classes), dtype=int)
    for cls in ("burger", "fries", "drink"):
        meal[detector.classes.index(cls)] = 1
    tray(41.0, meal, None)
    tray(46.0, meal, "50")
    assert [(v.order_id, v.verdict, v.association) for v in out[-2:]] == [("58", "ok", "fifo"), ("50", "ok", "qr")]


def test_a_guess_with_mistakes_gives_way_to_a_late_exact_fit(detector):
    """Its own order came after the guess (POS messages come up to 3 s after rest): the tray is
    checked again against it (`resolved`, for the new order: the alert closes), and the guessed
    order goes back to the queue, in its place, for its own tray (else that tray would take another
    one: a cascade)."""
    queue = OrderQueue()
    queue.add(Order(id="60", items=[{"sku": "BURGER_MEAL", "qty": 1}]), 0.0)
    queue.add(Order(id="62", items=[{"sku": "SALAD", "qty": 1}]), 0.5)
    out: list = []
    pipe = _ticketless_tray(detector, queue, {"cheeseburger": 1, "fries": 1, "drink": 1}, out)
    pipe._associate(3.0)
    pipe._better_guess(3.1)  # nothing better yet: the guess stands
    assert [(v.verdict, v.order_id) for v in out] == [("mismatch", "60")] and "60" not in queue
    queue.add(Order(id="61", items=[{"sku": "CHEESEBURGER_MEAL", "qty": 1}]), 4.5)
    pipe._better_guess(4.6)
    assert [(v.verdict, v.order_id) for v in out] == [("mismatch", "60"), ("resolved", "61")]
    assert [p.order.id for p in queue.pending()] == ["60", "62"]
    pipe._better_guess(4.7)  # an exact fit is final
    assert len(out) == 2


def test_a_tray_far_from_every_order_waits_longer_for_its_own(detector):
    """Three mistakes from the only pending order is more often a tray whose order is still on its
    way than a kitchen's three mistakes: FIFO waits ``fifo_far_wait_s`` before such a guess."""
    queue = OrderQueue()
    queue.add(Order(id="70", items=[{"sku": "BURGER_MEAL", "qty": 1}]), 0.0)
    out: list = []
    pipe = _ticketless_tray(detector, queue, {"fries": 2}, out)  # 3 mistakes from a burger meal
    for t in (2.6, 3.0, 3.4):  # past fifo_exact_wait_s, before fifo_far_wait_s
        pipe._associate(t)
    assert out == []
    queue.add(Order(id="71", items=[{"sku": "FRIES", "qty": 2}]), 3.45)
    pipe._associate(3.5)
    assert [(v.verdict, v.order_id) for v in out] == [("ok", "71")]
