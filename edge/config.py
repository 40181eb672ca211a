"""Settings of the edge agent, and the YAML-file loader every role uses.

A role's settings come from one YAML file (`--config FILE`) overridden by environment
variables with the `PW_` prefix (nested fields with `__`, e.g. PW_BROKER__PORT=1884).
A wrong field fails at start-up with its dotted name.
"""
from __future__ import annotations

import difflib
import os
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge.clock import ClockSource
from edge.drivers import DriverConfigError, parse_driver_config
from edge.filtering import FilterPolicy
from edge.keys import PublicKeyPem

S = TypeVar("S", bound=BaseSettings)


class ConfigError(ValueError):
    """Bad configuration; the message names the file and the field."""


class RoleSettings(BaseSettings):
    """Base of every role's settings: file values, then PW_* environment overrides."""

    model_config = SettingsConfigDict(env_prefix="PW_", env_nested_delimiter="__", extra="forbid")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (env_settings, init_settings)  # the environment wins over the file


# PW_ variables read by something other than a role's settings (Grafana's provisioning).
OTHER_PW_VARIABLES = frozenset({"PW_INFLUX_URL", "PW_INFLUX_TOKEN", "PW_INFLUX_ORG", "PW_INFLUX_BUCKET",
                                "PW_INFLUX_READ_TOKEN"})


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds (through Optional/Union), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [arg for arg in typing.get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]
    return models[0] if len(models) == 1 else None


def _env_names(model: type[BaseModel], prefix: str = "PW_") -> list[str]:
    names = []
    for field_name, field in model.model_fields.items():
        name = f"{prefix}{field_name.upper()}"
        names.append(name)
        if (inner := _model_in(field.annotation)) is not None:
            names += _env_names(inner, f"{name}__")
    return names


def _is_setting(model: type[BaseModel], path: list[str]) -> bool:
    field = model.model_fields.get(path[0])
    if field is None:
        return False
    inner = _model_in(field.annotation)
    return len(path) == 1 or inner is None or _is_setting(inner, path[1:])


def check_environment(cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
    """A PW_ variable that is no setting of this role is refused, as an unknown field in the
    file is: a typo (PW_DATA_DRI) would otherwise be silently ignored."""
    for name in sorted(environ):
        if not name.startswith("PW_") or name in OTHER_PW_VARIABLES:
            continue
        if not _is_setting(cls, name[3:].lower().split("__")):
            close = difflib.get_close_matches(name, _env_names(cls), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"environment: {name} is not a setting of this role{hint}")


def load_settings(cls: type[S], path: str | Path | None, **overrides: Any) -> S:
    """Read `path` (YAML) into `cls`; ConfigError names the file and the bad field."""
    check_environment(cls, os.environ)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "unreadable"
            raise ConfigError(f"config {path} is not valid YAML{where}: {problem}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config {path}: the top level must be a mapping")
        data = loaded or {}
    data.update(overrides)
    try:
        return cls(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"config {path or '(environment)'}: {where}: {first['msg']}") from exc
    except DriverConfigError as exc:
        raise ConfigError(f"config {path}: {exc}") from exc


def _readable(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


ReadableFile = Annotated[Path, AfterValidator(_readable)]


class BrokerTls(BaseModel):
    """TLS to the broker: the CA that signed its certificate, and our client certificate
    (a gateway's common name is its id: `pledgewatch mqtt-acl --tls-host` makes them)."""

    model_config = {"extra": "forbid"}
    ca_file: ReadableFile
    cert_file: ReadableFile | None = None
    key_file: ReadableFile | None = None

    @model_validator(mode="after")
    def _pair(self) -> "BrokerTls":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class BrokerSettings(BaseModel):
    model_config = {"extra": "forbid"}
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    tls: BrokerTls | None = None
    # 5 in production; 4 (3.1.1) only for brokers without MQTT 5 (the demo's embedded one).
    protocol: Literal[4, 5] = 5
    keepalive_s: int = Field(30, ge=5)


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
