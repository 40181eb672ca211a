"""Settings → price source adapters (the wiring of `prices.sources`)."""
from __future__ import annotations

from typing import Callable

from backend.adapters.price_sources import PriceSource, parse_pair
from backend.adapters.price_sources.csv_replay import CsvReplaySource
from backend.adapters.price_sources.http_json import HttpJsonSource
from backend.adapters.price_sources.mqtt_topic import MqttPriceSource
from backend.adapters.price_sources.simulated import SimulatedSource
from backend.services.prices_config import (
    CsvSourceSettings,
    HttpJsonSourceSettings,
    MqttSourceSettings,
    PriceSettings,
    SimulatedSourceSettings,
)
from edge.protocol.broker import BrokerSettings
from edge.protocol.settings import ConfigError


def build_sources(settings: PriceSettings, broker: BrokerSettings,
                  latest_price: Callable[[str], object], clock: Callable[[], float]) -> list[PriceSource]:
    return [_source(entry, broker, latest_price, clock) for entry in settings.sources]


def _source(entry, broker: BrokerSettings, latest_price, clock) -> PriceSource:
    if isinstance(entry, HttpJsonSourceSettings):
        return HttpJsonSource(entry.name, entry.url, entry.json_path, interval_s=entry.interval_s,
                              commodity=entry.commodity, currency=entry.currency or "", per=entry.per,
                              fx_pair=parse_pair(entry.fx_pair) if entry.fx_pair else None,
                              time_path=entry.time_path, headers=entry.headers, timeout_s=entry.timeout_s)
    if isinstance(entry, SimulatedSourceSettings):
        if entry.commodity is None:
            raise ConfigError(f"prices.sources {entry.name}: the simulated source quotes commodities only")
        return SimulatedSource(entry.name, entry.commodity, entry.currency, entry.per,
                               latest_price=latest_price, start_price=entry.start_price,
                               interval_s=entry.interval_s, volatility_per_sqrt_day=entry.volatility_per_sqrt_day,
                               jump_probability=entry.jump_probability, jump_fraction=entry.jump_fraction,
                               seed=entry.seed)
    if isinstance(entry, CsvSourceSettings):
        from backend.adapters.price_sources import PriceSourceError
        try:
            return CsvReplaySource(entry.name, entry.path, interval_s=entry.interval_s, loop=entry.loop)
        except PriceSourceError as exc:
            raise ConfigError(f"prices.sources {entry.name}: {exc}") from exc
    if isinstance(entry, MqttSourceSettings):
        return MqttPriceSource(entry.name, broker, client_id=entry.client_id, root=entry.root, clock=clock)
    raise ConfigError(f"unknown price source {entry!r}")
