"""The visual classes of the bundled detector, in class-id order.

The order is part of the model: class id ``i`` of every committed model means
``CLASSES[i]``. Change it only together with a retrained model.
"""
from __future__ import annotations

CLASSES: tuple[str, ...] = (
    "burger",
    "cheeseburger",
    "chicken_sandwich",
    "wrap",
    "fries",
    "nuggets",
    "salad",
    "drink",
    "dessert",
    "sauce",
)
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}
