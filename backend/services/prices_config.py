"""Settings of the price feeds (part of BackendSettings: `prices:` in the backend config).

Each source names the commodity (or FX pair) it quotes; the MQTT source carries any
commodity its topic tree names. Bad config fails at start-up naming the field.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field, field_validator, model_validator

from backend.ports.prices import parse_pair

_NAME = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_CCY = Field(pattern=r"^[A-Z]{3}$")


class _Quoted(BaseModel):
    """What a single-instrument source quotes: a commodity's price, or an FX pair."""

    model_config = {"extra": "forbid"}
    name: Annotated[str, _NAME]
    commodity: str | None = None
    currency: Annotated[str, _CCY] | None = None
    per: Literal["t", "kg"] = "t"
    fx_pair: str | None = None  # BASE/QUOTE, e.g. USD/CNY
    interval_s: float = Field(60.0, gt=0)

    @field_validator("fx_pair")
    @classmethod
    def _pair(cls, pair: str | None) -> str | None:
        if pair is not None:
            parse_pair(pair)
        return pair

    @model_validator(mode="after")
    def _one_instrument(self):
        if (self.commodity is None) == (self.fx_pair is None):
            raise ValueError("give either `commodity` (with `currency`) or `fx_pair`")
        if self.commodity is not None and self.currency is None:
            raise ValueError("a commodity price needs its `currency`")
        return self

    @property
    def instrument(self) -> str:
        return self.commodity or f"fx:{self.fx_pair}"


class HttpJsonSourceSettings(_Quoted):
    kind: Literal["http_json"]
    url: Annotated[str, Field(pattern=r"^https?://")]
    json_path: str  # dotted keys and list indexes: data.quotes.0.last
    time_path: str | None = None  # the quote's own time (epoch s or ms)
    timeout_s: float = Field(5.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)  # e.g. a vendor's API key; never logged


class SimulatedSourceSettings(_Quoted):
    kind: Literal["simulated"]
    interval_s: float = Field(5.0, gt=0)
    start_price: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None  # else: latest mark
    volatility_per_sqrt_day: float = Field(0.02, ge=0, le=1)
    jump_probability: float = Field(0.0, ge=0, le=1)  # per tick
    jump_fraction: float = Field(0.1, ge=0, lt=1)
    seed: int | None = None


class CsvSourceSettings(BaseModel):
    model_config = {"extra": "forbid"}
    kind: Literal["csv"]
    name: Annotated[str, _NAME]
    path: Path
    interval_s: float = Field(1.0, gt=0)
    loop: bool = False


class MqttSourceSettings(BaseModel):
    """Quotes pushed to the backend's broker under `root` (docs/prices.md)."""

    model_config = {"extra": "forbid"}
    kind: Literal["mqtt"]
    name: Annotated[str, _NAME] = "mqtt"
    root: str = "pw-market/v1"
    client_id: str = "pw-prices"


SourceSettings = Annotated[Union[HttpJsonSourceSettings, SimulatedSourceSettings, CsvSourceSettings,
                                 MqttSourceSettings], Field(discriminator="kind")]


class PriceSettings(BaseModel):
    model_config = {"extra": "forbid"}
    sources: list[SourceSettings] = Field(default_factory=list)
    future_tolerance_s: float = Field(60.0, ge=0)  # a quote timed further ahead is refused
    ewma_lambda: float = Field(0.94, gt=0, lt=1)  # RiskMetrics decay for the volatility estimate

    @model_validator(mode="after")
    def _one_feed_per_instrument(self):
        names, instruments = set(), set()
        for source in self.sources:
            if source.name in names:
                raise ValueError(f"two price sources are named {source.name!r}")
            names.add(source.name)
            instrument = getattr(source, "instrument", None)
            if instrument is not None and instrument in instruments:
                raise ValueError(f"two price sources quote {instrument}: choose one per commodity")
            instruments.add(instrument)
        return self
