"""POS orders as validated models (the payload of pos.jsonl events and of the POS API)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(1, ge=1, le=99)


class Order(BaseModel):
    """One POS order: its number and its lines (SKU and quantity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    items: list[OrderLine] = Field(min_length=1, max_length=100)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    def lines(self) -> list[tuple[str, int]]:
        return [(line.sku, line.qty) for line in self.items]
