"""Train/val split by group, reproducible: the same groups always land on the same side.

Groups are ordered by a hash of their first file name (not by position, so a
site's newest trays are not all in val), val takes groups until it holds the
asked share of images, then any class missing from val borrows one group that
has it (a class never validated would report a perfect nothing).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence


def split_groups(group_of: Sequence[int], keys: Sequence[str], classes_of: Sequence[set[str]],
                 val_fraction: float) -> list[str]:
    """'train' or 'val' per image. ``keys``: a stable name per image (its file name)."""
    n = len(group_of)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group_of):
        members.setdefault(g, []).append(i)
    if val_fraction <= 0 or len(members) < 2:
        return ["train"] * n
    order = sorted(members, key=lambda g: hashlib.sha1(min(keys[i] for i in members[g]).encode()).hexdigest())
    target = val_fraction * n
    val: set[int] = set()
    count = 0
    for g in order:
        if count >= target or len(val) == len(members) - 1:
            break
        val.add(g)
        count += len(members[g])
    group_classes = {g: set().union(*(classes_of[i] for i in members[g])) for g in members}
    all_classes = set().union(*group_classes.values())
    for cls in sorted(all_classes):
        if any(cls in group_classes[g] for g in val):
            continue
        holders = [g for g in order if cls in group_classes[g] and g not in val]
        if len(holders) >= 2:  # keep at least one group with it for training
            val.add(holders[0])
    return ["val" if group_of[i] in val else "train" for i in range(n)]
