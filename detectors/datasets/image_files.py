"""Image files in a labelled export: which suffixes count, and the order a person numbered them in.

Every reader lists images the same way, so that a dataset's photos come out in one
order whatever tool exported them ('shot (9)' before 'shot (10)').
"""
from __future__ import annotations

import re
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def natural_key(name: str) -> list:
    """Sort 'shot (9)' before 'shot (10)'."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def images_in(folder: Path) -> list[Path]:
    """Every image file under ``folder``, in natural order of its path."""
    return sorted((p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                  key=lambda p: natural_key(str(p.relative_to(folder))))
