"""The scenario file format (see shared/specs/scenario.md), parsed strictly.

Unknown keys, duplicate keys, unknown ids and bad durations raise `ScenarioFileError`
naming the file, the line and the key. Two additions to the spec, both optional:
`fx: [{from: USD, to: CNY, rate: 7.1}]` for loans in another currency than their prices,
and the event `{type: clock_skew, gateway, offset: 10m, for: 1h}` (`offset` may be
negative) to exercise `clock_skew`.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from backend.scenario.durations import parse_duration
from backend.scenario.errors import ScenarioFileError

Duration = Annotated[int, BeforeValidator(parse_duration)]
SignedDuration = Annotated[int, BeforeValidator(lambda v: parse_duration(v, signed=True))]
Positive = Annotated[Decimal, Field(gt=0)]
Share = Annotated[Decimal, Field(ge=0, lt=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Noise(_Strict):
    rfid_read_rate: float = Field(0.97, gt=0, le=1)
    scale_sigma: float = Field(0.0005, ge=0)
    temperature_sigma_c: float = Field(0.2, ge=0)


class Party(_Strict):
    id: str


class WarehouseSpec(_Strict):
    id: str
    gateway: str


class UnverifiedSpec(_Strict):
    """Lending value of unverified collateral: full for `grace`, 0 from `zero_after`."""
    grace: Duration = 3600
    zero_after: Duration = 86_400

    @model_validator(mode="after")
    def _ordered(self) -> "UnverifiedSpec":
        if self.zero_after <= self.grace:
            raise ValueError("zero_after must be after grace")
        return self


class CommoditySpec(_Strict):
    id: str
    unit: str
    perishable: bool = False
    temperature_max_c: float | None = None
    unverified: UnverifiedSpec | None = None


class LotSpec(_Strict):
    id: str
    warehouse: str
    commodity: str
    items: int = Field(ge=1)
    item_quantity: Positive
    temperature_c: float | None = None
    item_weight_kg: float | None = Field(None, gt=0)


class ThresholdSpec(_Strict):
    warning: Positive
    margin_call: Positive
    liquidation: Positive


class LoanSpec(_Strict):
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


class MoveSpec(_Strict):
    at: Duration
    to: Positive


class PriceSpec(_Strict):
    commodity: str
    currency: str
    per: str
    start: Positive
    moves: list[MoveSpec] = []
    max_age: Duration = 86_400


class FxSpec(_Strict):
    from_: str = Field(alias="from")
    to: str
    rate: Positive


class _Event(_Strict):
    at: Duration


class RemoveItems(_Event):
    type: Literal["remove_items"]
    lot: str
    count: int = Field(ge=1)


class Release(_Event):
    type: Literal["release"]
    lot: str
    items: int = Field(ge=1)
    approved_by: str
    repayment: Annotated[Decimal, Field(ge=0)]


class Repay(_Event):
    type: Literal["repay"]
    loan: str
    amount: Positive


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
                        InspectionEvent, ClockSkew],
                  Field(discriminator="type")]


class Scenario(_Strict):
    name: str
    seed: int = 0
    duration: Duration
    step: Duration = 60
    noise: Noise = Noise()
    lenders: list[Party]
    borrowers: list[Party]
    warehouses: list[WarehouseSpec]
    commodities: list[CommoditySpec]
    lots: list[LotSpec]
    loans: list[LoanSpec] = []
    prices: list[PriceSpec] = []
    fx: list[FxSpec] = []
    events: list[Event] = []


class _UniqueKeyLoader(yaml.SafeLoader):
    """Refuses a key written twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ScenarioFileError(
                    f"line {key_node.start_mark.line + 1}: key {key!r} appears twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """The 1-based line of the node at `loc` (as deep as the file goes)."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def file_error(path: str, root: yaml.Node | None, loc: tuple, message: str) -> ScenarioFileError:
    line = line_of(root, loc)
    where = f"{path}:{line}" if line else path
    return ScenarioFileError(f"{where}: {dotted(loc)}: {message}" if loc else f"{where}: {message}")


def _first_error(error: ValidationError) -> tuple[tuple, str]:
    # An unknown key explains more than the "missing" errors a misspelt key also causes.
    detail = min(error.errors(), key=lambda d: d["type"] != "extra_forbidden")
    loc = tuple(detail["loc"])
    if loc[:1] == ("events",) and len(loc) > 2 and loc[2] in _EVENT_TYPES:
        loc = loc[:2] + loc[3:]                # drop the union's tag from the path
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    return loc, message


_EVENT_TYPES = ("remove_items", "release", "repay", "replace_contents", "sensor_fault",
                "gateway_offline", "pledge", "temperature", "price_feed_stop", "clone_tags",
                "tamper", "clock_skew")


def parse_scenario(text: str, path: str = "<scenario>") -> tuple[Scenario, yaml.Node | None]:
    """Validate the text; returns the scenario and its YAML tree (for line numbers)."""
    try:
        root = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except ScenarioFileError as exc:
        raise ScenarioFileError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioFileError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise ScenarioFileError(f"{path}: expected a mapping of scenario keys at the top")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        loc, message = _first_error(exc)
        raise file_error(path, root, loc, message) from exc
    return scenario, root


def load_scenario(path: str | Path) -> tuple[Scenario, yaml.Node | None]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioFileError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_scenario(text, str(path))
