"""The scenario file format (see shared/specs/scenario.md): a book (backend.book) plus
the run's keys and its timed events, parsed strictly.

Unknown keys, duplicate keys, unknown ids and bad durations raise `ScenarioFileError`
naming the file, the line and the key. Two additions to the spec, both optional:
`fx: [{from: USD, to: CNY, rate: 7.1}]` for loans in another currency than their prices,
and the event `{type: clock_skew, gateway, offset: 10m, for: 1h}` (`offset` may be
negative) to exercise `clock_skew`.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Union, get_args

import yaml
from pydantic import BeforeValidator, Field, ValidationError, model_validator

from backend.book.durations import parse_duration
from backend.book.model import (
    CommoditySpec,
    Duration,
    FxSpec,
    LoanSpec,
    LotSpec,
    Party,
    Positive,
    PriceSpec,
    Strict,
    WarehouseSpec,
)
from backend.book.strict_yaml import BookFileError, first_error, located, read_yaml
from backend.scenario.errors import ScenarioFileError

SignedDuration = Annotated[int, BeforeValidator(lambda v: parse_duration(v, signed=True))]


class Noise(Strict):
    rfid_read_rate: float = Field(0.97, gt=0, le=1)
    scale_sigma: float = Field(0.0005, ge=0)
    temperature_sigma_c: float = Field(0.2, ge=0)


class _Event(Strict):
    at: Duration


class RemoveItems(_Event):
    """`count` items leave (the highest EPCs first), or exactly the items of `epcs`."""
    type: Literal["remove_items"]
    lot: str
    count: int | None = Field(None, ge=1)
    epcs: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _count_or_epcs(self) -> "RemoveItems":
        if (self.count is None) == (self.epcs is None):
            raise ValueError("name either count or epcs")
        return self


class Release(_Event):
    type: Literal["release"]
    lot: str
    items: int = Field(ge=1)
    approved_by: str
    repayment: Annotated[Decimal, Field(ge=0)]


class RequestRelease(_Event):
    """`by` (default the loan's borrower) asks the lender to let `items` of the lot leave, or
    exactly `epcs`: a pending request until `approve_release`."""
    type: Literal["request_release"]
    lot: str
    items: int | None = Field(None, ge=1)
    epcs: list[str] | None = Field(None, min_length=1)
    by: str | None = None

    @model_validator(mode="after")
    def _items_or_epcs(self) -> "RequestRelease":
        if (self.items is None) == (self.epcs is None):
            raise ValueError("name either items or epcs")
        return self


class ApproveRelease(_Event):
    """The loan's oldest pending release request approved `by` (default its lender): a
    delivery order for the chosen EPCs, open for `valid_for` (default 1d)."""
    type: Literal["approve_release"]
    loan: str
    by: str | None = None
    valid_for: Duration = 86_400


class Repay(_Event):
    """`by`: who enters it (default the loan's lender: confirmed at once; anyone else's
    waits, pending, for `confirm_repayment`)."""
    type: Literal["repay"]
    loan: str
    amount: Positive
    by: str | None = None


class ConfirmRepayment(_Event):
    """The loan's oldest pending repayment confirmed by `by` (default the loan's lender)."""
    type: Literal["confirm_repayment"]
    loan: str
    by: str | None = None


class Substitute(_Event):
    """`release_lot` leaves the loan and `pledge_lot` backs it instead, if LTV stays at target."""
    type: Literal["substitute"]
    loan: str
    release_lot: str
    pledge_lot: str
    by: str | None = None


class Drawdown(_Event):
    """The lender lends `amount` more, within drawing power."""
    type: Literal["drawdown"]
    loan: str
    amount: Positive
    by: str | None = None


class CloseLoan(_Event):
    """The lender closes a loan repaid in full: its lots are released."""
    type: Literal["close_loan"]
    loan: str
    by: str | None = None


class ReplaceContents(_Event):
    type: Literal["replace_contents"]
    lot: str
    fraction: float = Field(gt=0, le=1)


class SensorFault(_Event):
    type: Literal["sensor_fault"]
    lot: str
    sensor: Literal["scale", "rfid", "temperature"]
    mode: Literal["stuck", "dead", "drift"]
    for_: Duration = Field(alias="for")


class GatewayOffline(_Event):
    type: Literal["gateway_offline"]
    gateway: str
    for_: Duration = Field(alias="for")


class Pledge(_Event):
    type: Literal["pledge"]
    lot: str
    loan: str


class Temperature(_Event):
    type: Literal["temperature"]
    lot: str
    to_c: float
    for_: Duration = Field(alias="for")


class PriceFeedStop(_Event):
    type: Literal["price_feed_stop"]
    commodity: str


class CloneTags(_Event):
    type: Literal["clone_tags"]
    lot: str
    warehouse: str
    count: int = Field(ge=1)


class Tamper(_Event):
    type: Literal["tamper"]
    gateway: str
    for_: Duration = Field(alias="for")


class Forged(_Event):
    """Someone with the gateway's MQTT login (not its key): extra messages that fail
    verification arrive beside the genuine ones."""
    type: Literal["forged"]
    gateway: str
    for_: Duration = Field(alias="for")
    per_minute: int = Field(ge=1, le=600)


class InspectionEvent(_Event):
    """A supervisor's physical count of a lot."""
    type: Literal["inspection"]
    lot: str
    items: int = Field(ge=0)
    quantity: Annotated[Decimal, Field(ge=0)]
    temperature_c: float | None = None
    note: str = ""


class ClockSkew(_Event):
    type: Literal["clock_skew"]
    gateway: str
    offset: SignedDuration
    for_: Duration = Field(alias="for")


Event = Annotated[Union[RemoveItems, Release, Repay, ReplaceContents, SensorFault, GatewayOffline,
                        Pledge, Temperature, PriceFeedStop, CloneTags, Tamper, Forged,
                        InspectionEvent, ClockSkew,
                        ConfirmRepayment, Substitute, Drawdown, CloseLoan, RequestRelease, ApproveRelease],
                  Field(discriminator="type")]


class Scenario(Strict):
    name: str
    seed: int = 0
    duration: Duration
    step: Duration = 60
    noise: Noise = Noise()
    # the book's keys (backend.book.model.Book), where a scenario file has them
    lenders: list[Party]
    borrowers: list[Party]
    warehouses: list[WarehouseSpec]
    commodities: list[CommoditySpec]
    lots: list[LotSpec]
    loans: list[LoanSpec] = []
    prices: list[PriceSpec] = []
    fx: list[FxSpec] = []
    events: list[Event] = []


def _first_error(error: ValidationError) -> tuple[tuple, str]:
    loc, message = first_error(error)
    if loc[:1] == ("events",) and len(loc) > 2 and loc[2] in _EVENT_TYPES:
        loc = loc[:2] + loc[3:]                # drop the union's tag from the path
    return loc, message


# Every event's `type` tag, read off the union (a list kept by hand missed two).
_EVENT_TYPES = tuple(get_args(model.model_fields["type"].annotation)[0] for model in get_args(get_args(Event)[0]))


def file_error(path: str, root: yaml.Node | None, loc: tuple, message: str) -> ScenarioFileError:
    return ScenarioFileError(located(path, root, loc, message))


def parse_scenario(text: str, path: str = "<scenario>") -> tuple[Scenario, yaml.Node | None]:
    """Validate the text; returns the scenario and its YAML tree (for line numbers)."""
    try:
        data, root = read_yaml(text, path)
    except BookFileError as exc:
        raise ScenarioFileError(str(exc)) from exc
    if not isinstance(data, dict):
        raise ScenarioFileError(f"{path}: expected a mapping of scenario keys at the top")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise file_error(path, root, *_first_error(exc)) from exc
    return scenario, root


def load_scenario(path: str | Path) -> tuple[Scenario, yaml.Node | None]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioFileError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_scenario(text, str(path))
