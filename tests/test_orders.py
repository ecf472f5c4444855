"""Order queue (idempotency, FIFO) and matching edge cases."""
from __future__ import annotations

import pytest

from orders.matching import match
from orders.menu import Menu
from orders.models import Order
from orders.queue import OrderQueue

pytestmark = pytest.mark.quick


def order(oid: str, *lines: tuple[str, int]) -> Order:
    return Order(id=oid, items=[{"sku": s, "qty": q} for s, q in lines])


def test_queue_is_fifo_and_idempotent():
    q = OrderQueue()
    assert q.add(order("1", ("BURGER", 1)), 0.0) and q.add(order("2", ("WRAP", 1)), 1.0)
    q.add(order("1", ("BURGER", 2)), 2.0)  # an update keeps its place and first arrival time
    assert [p.order.id for p in q.pending()] == ["1", "2"]
    assert q.get("1").order.items[0].qty == 2 and q.get("1").received_t == 0.0
    assert q.take("1").order.id == "1" and [p.order.id for p in q.pending()] == ["2"]
    assert not q.add(order("1", ("BURGER", 1)), 3.0)  # served already: a late duplicate changes nothing
    assert q.cancel("2") and len(q) == 0 and q.pending() == []


def test_matching_unverifiable_skus_duplicates_and_quantities():
    m = Menu()
    exp = m.expected(order("9", ("KETCHUP", 3), ("BURGER", 1), ("BURGER", 1), ("SAUCE_BBQ", 2)).lines())
    assert dict(exp) == {"burger": 2, "sauce": 2}  # duplicate lines add up, ketchup is not checked
    assert match(exp, {"burger": 2, "sauce": 2}).ok
    r = match(exp, {"burger": 1, "sauce": 3, "cheeseburger": 1})
    assert not r.ok and r.missing == {"burger": 1} and r.extra == {"cheeseburger": 1, "sauce": 1}
    assert match({}, {}).ok  # an order of ketchup only: nothing to see, nothing wrong
    assert match({}, {"fries": 1}).extra == {"fries": 1}
    assert Order(id=1042, items=[{"sku": "WRAP"}]).id == "1042"


DEMO_PAIRS = (("burger", "cheeseburger"), ("chicken_sandwich", "wrap"))  # the bundled model's metadata


def test_mistakes_count_a_lookalike_swap_as_one():
    from orders.matching import match, mistakes

    order = {"cheeseburger": 1, "chicken_sandwich": 1}
    assert mistakes(match(order, {"burger": 1, "chicken_sandwich": 1}), DEMO_PAIRS) == 1  # burger for cheeseburger
    assert mistakes(match({"salad": 1, "chicken_sandwich": 1}, {"burger": 1, "chicken_sandwich": 1}), DEMO_PAIRS) == 2
    assert mistakes(match(order, {"cheeseburger": 1, "wrap": 1, "fries": 1}), DEMO_PAIRS) == 2  # a swap and an extra
    assert mistakes(match(order, order), DEMO_PAIRS) == 0
    assert mistakes(match({"burger": 2}, {"cheeseburger": 1}), DEMO_PAIRS) == 2  # one swapped, one missing


def test_the_pairs_given_decide_which_swap_is_one_mistake():
    """The pairs are the model's: the same swap is one mistake under a model that names it, two under
    one that does not, and a pair the demo model never had counts once it is given."""
    from orders.matching import match, mistakes

    swap = match({"cheeseburger": 1}, {"burger": 1})
    assert mistakes(swap, DEMO_PAIRS) == 1 and mistakes(swap, ()) == 2
    assert mistakes(swap, [("chicken_sandwich", "wrap")]) == 2
    salad_for_wrap = match({"wrap": 1}, {"salad": 1})
    assert mistakes(salad_for_wrap, DEMO_PAIRS) == 2 and mistakes(salad_for_wrap, [("salad", "wrap")]) == 1
