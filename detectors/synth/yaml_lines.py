"""Find the source line of a key path in a YAML document.

pydantic reports *where* in the data a value is wrong (``trays.3.order.items.0.sku``);
people editing a scenario want the line too. We compose the YAML node tree once
and walk it along the error's location.
"""
from __future__ import annotations

from collections.abc import Sequence

import yaml


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree (with marks), or None for an empty document."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


def line_of(root: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """1-based line of the deepest node found along ``path``."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in path:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    nxt = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                nxt = node.value[part]
                line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return line
