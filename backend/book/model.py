"""The book file: lenders, borrowers, warehouses, commodities, lots, loans, prices and fx
rates, as a scenario file writes them (see shared/specs/scenario.md), parsed strictly.

Unknown keys, duplicate keys and bad durations raise `BookFileError` naming the file, the
line and the key. A book file may be a whole scenario (seeds/demo.yaml is both): the keys
a scenario adds around its book are the scenario's, and not read here.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from backend.book.durations import parse_duration
from backend.book.strict_yaml import BookFileError, first_error, located, read_yaml

Duration = Annotated[int, BeforeValidator(parse_duration)]
Positive = Annotated[Decimal, Field(gt=0)]
Share = Annotated[Decimal, Field(ge=0, lt=1)]

SCENARIO_KEYS = frozenset({"name", "seed", "duration", "step", "noise", "events"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Party(Strict):
    id: str


class WarehouseSpec(Strict):
    id: str
    gateway: str


class UnverifiedSpec(Strict):
    """Lending value of unverified collateral: full for `grace`, 0 from `zero_after`."""
    grace: Duration = 3600
    zero_after: Duration = 86_400

    @model_validator(mode="after")
    def _ordered(self) -> "UnverifiedSpec":
        if self.zero_after <= self.grace:
            raise ValueError("zero_after must be after grace")
        return self


class CommoditySpec(Strict):
    id: str
    unit: str
    perishable: bool = False
    temperature_max_c: float | None = None
    unverified: UnverifiedSpec | None = None


class LotSpec(Strict):
    id: str
    warehouse: str
    commodity: str
    items: int = Field(ge=1)
    item_quantity: Positive
    temperature_c: float | None = None
    item_weight_kg: float | None = Field(None, gt=0)


class ThresholdSpec(Strict):
    warning: Positive
    margin_call: Positive
    liquidation: Positive


class InterestSpec(Strict):
    """Yearly `rate`, accrued daily over the `day_count` year (backend.domain.money)."""
    rate: Annotated[Decimal, Field(ge=0, lt=1)]
    day_count: Literal["ACT/360", "ACT/365"] = "ACT/360"


class LoanSpec(Strict):
    id: str
    lender: str
    borrower: str
    outstanding: Annotated[Decimal, Field(ge=0)]
    currency: str
    lots: list[str] = []
    haircut: Share = Decimal(0)
    thresholds: ThresholdSpec
    target_ltv: Positive | None = None
    cure_period: Duration = 86_400
    unverified: UnverifiedSpec | None = None
    interest: InterestSpec | None = None       # None: the loan accrues nothing


class MoveSpec(Strict):
    """A scenario's price move (`at` into the run); a book file has only `start`."""
    at: Duration
    to: Positive


class PriceSpec(Strict):
    commodity: str
    currency: str
    per: str
    start: Positive
    moves: list[MoveSpec] = []
    max_age: Duration = 86_400


class FxSpec(Strict):
    from_: str = Field(alias="from")
    to: str
    rate: Positive


class Book(Strict):
    """The book's keys; a scenario declares the same ones among its own, in its own order."""
    lenders: list[Party]
    borrowers: list[Party]
    warehouses: list[WarehouseSpec]
    commodities: list[CommoditySpec]
    lots: list[LotSpec]
    loans: list[LoanSpec] = []
    prices: list[PriceSpec] = []
    fx: list[FxSpec] = []


def parse_book(text: str, path: str = "<book>") -> Book:
    data, root = read_yaml(text, path)
    if not isinstance(data, dict):
        raise BookFileError(f"{path}: expected a mapping of book keys at the top")
    try:
        return Book.model_validate({key: value for key, value in data.items() if key not in SCENARIO_KEYS})
    except ValidationError as exc:
        raise BookFileError(located(path, root, *first_error(exc))) from exc


def load_book(path: str | Path) -> Book:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BookFileError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_book(text, str(path))
