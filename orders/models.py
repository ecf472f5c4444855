"""POS orders as validated models (the payload of pos.jsonl events and of the POS API)."""
from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_MARKS = 3  # combining marks on one base character: Vietnamese needs 2, Indic clusters 3; "Zalgo" text 60
MARKS = ("Mn", "Mc", "Me")  # Unicode categories of combining marks (nonspacing, spacing, enclosing)


def check_printable(text: str) -> str:
    """``text`` when every character is printable: no control characters (NUL, newlines), no bidi
    overrides or zero-width characters (format characters), no unassigned code points, no blank ends,
    at most ``MAX_MARKS`` combining marks on a character and none without one. An order number is shown
    to staff and matched against a printed ticket; such characters only hide what it is (a letter under
    60 accents is a smear on the screen, not an order number)."""
    marks = 0
    for i, ch in enumerate(text):
        if not ch.isprintable():
            raise ValueError(f"character {i + 1} (U+{ord(ch):04X} {unicodedata.name(ch, '')}) is not allowed: "
                             "use printable characters only")
        if unicodedata.category(ch) not in MARKS:
            marks = 0
            continue
        marks += 1
        if i == 0 or marks > MAX_MARKS:
            what = "a combining mark on no character is" if i == 0 else \
                f"more than {MAX_MARKS} combining marks on one character are"
            raise ValueError(f"character {i + 1} (U+{ord(ch):04X} {unicodedata.name(ch, '')}): {what} not allowed")
    if text != text.strip():
        raise ValueError("no blanks at the start or end")
    return text


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(1, ge=1, le=99, strict=True)  # "2" or true is a POS bug to report, not to guess

    _sku = field_validator("sku")(classmethod(lambda cls, v: check_printable(v)))


class Order(BaseModel):
    """One POS order: its number and its lines (SKU and quantity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    items: list[OrderLine] = Field(min_length=1, max_length=100)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    _printable = field_validator("id")(classmethod(lambda cls, v: check_printable(v)))

    def lines(self) -> list[tuple[str, int]]:
        return [(line.sku, line.qty) for line in self.items]
