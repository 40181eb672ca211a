"""Settings of the edge agent (one gateway): its devices, batching, uplink, outbox, commands.

Read like every role's (edge.protocol.settings: a YAML file, then PW_* variables); the
`broker:` block is the one every role shares (edge.protocol.broker).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from edge.clock import ClockSource
from edge.drivers import DriverConfigError, parse_driver_config
from edge.filtering import FilterPolicy
from edge.protocol.broker import BrokerSettings
from edge.protocol.settings import PublicKeyPem, RoleSettings


class FilterSettings(BaseModel):
    """Median, debounce and report-by-exception for scalar sensors (edge/filtering.py).

    Ignored for RFID rounds: every round is reported."""

    model_config = {"extra": "forbid"}
    median_window: int = Field(1, ge=1, le=99)  # median of the last N values; 1: off
    debounce_samples: int = Field(1, ge=1, le=100)  # a new quality must last N samples
    deadband: float | None = Field(None, ge=0)  # in the value's unit (kg, °C); None: every sample
    max_silence_s: float = Field(300.0, gt=0)  # report anyway after this long

    def policy(self) -> FilterPolicy:
        return FilterPolicy(self.median_window, self.debounce_samples, self.deadband,
                            self.max_silence_s)


class DriverBlock(BaseModel):
    """One device: which driver, how often to sample, and the driver's own config."""

    model_config = {"extra": "forbid"}
    driver: str
    every_s: float = Field(5.0, gt=0)
    config: dict[str, Any] = Field(default_factory=dict)
    filter: FilterSettings = FilterSettings()

    @model_validator(mode="after")
    def _validate_driver_config(self) -> "DriverBlock":
        try:
            parse_driver_config(self.driver, self.config)
        except DriverConfigError as exc:
            raise ValueError(str(exc)) from exc
        return self


class BatchSettings(BaseModel):
    model_config = {"extra": "forbid"}
    max_readings: int = Field(50, ge=1, le=1000)
    max_delay_s: float = Field(1.0, gt=0)


class UplinkSettings(BaseModel):
    model_config = {"extra": "forbid"}
    # Token bucket on data publishes: a backlog replays at this rate, never in one flood.
    max_messages_per_s: float = Field(50.0, gt=0)
    burst_messages: int = Field(100, ge=1)
    ack_timeout_s: float = Field(15.0, gt=0)  # no ack by then: send again
    heartbeat_s: float = Field(30.0, gt=0)


class OutboxSettings(BaseModel):
    model_config = {"extra": "forbid"}
    # Disk bound of the unacknowledged backlog; beyond it the OLDEST batches go, counted
    # (pw_edge_dropped_total, birth and heartbeat `dropped_readings`). docs/edge.md.
    max_bytes: int = Field(1024**3, ge=64 * 1024)


class MetricsSettings(BaseModel):
    model_config = {"extra": "forbid"}
    port: int | None = Field(None, ge=0, le=65535)  # None: no /metrics; 0: a free port
    host: str = "127.0.0.1"


class CommandSettings(BaseModel):
    """Remote commands: accepted only when signed by the backend's command key."""

    model_config = {"extra": "forbid"}
    backend_public_key_pem: PublicKeyPem | None = None  # None: every command is refused
    max_ttl_s: float = Field(600.0, gt=0)  # a command valid longer than this is refused
    clock_skew_s: float = Field(60.0, ge=0)  # tolerated issued_at in our future


class EdgeSettings(RoleSettings):
    gateway_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    broker: BrokerSettings = BrokerSettings()
    state_dir: Path  # outbox and boot epoch live here
    key_file: Path | None = None  # Ed25519 private key (PEM); unsigned without it
    batch: BatchSettings = BatchSettings()
    drivers: list[DriverBlock] = Field(default_factory=list)
    # Broker reconnect: jittered delays in [d/2, d], d doubling from min to max. The cap suits
    # a LAN broker: an outage costs at most ~max_s more (docs/edge.md, "Reconnect").
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(1.0, gt=0)
    uplink: UplinkSettings = UplinkSettings()
    outbox: OutboxSettings = OutboxSettings()
    metrics: MetricsSettings = MetricsSettings()
    commands: CommandSettings = CommandSettings()
    clock_source: ClockSource = "kernel"  # how the agent knows its clock is synced (edge/clock.py)
    # A loop silent this long (a sampling loop: 3x its interval if longer) stops the agent
    # with exit status 3, for its supervisor to restart it (edge/health.py).
    watchdog_s: float = Field(60.0, gt=0)
    # While state_dir cannot be written, at most this many readings wait in memory (oldest dropped).
    max_unstored_readings: int = Field(100_000, ge=1)
