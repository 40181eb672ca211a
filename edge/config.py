"""Settings of the edge agent, and the YAML-file loader every role uses.

A role's settings come from one YAML file (`--config FILE`) overridden by environment
variables with the `PW_` prefix (nested fields with `__`, e.g. PW_BROKER__PORT=1884).
A wrong field fails at start-up with its dotted name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge.drivers import DriverConfigError, parse_driver_config

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


def load_settings(cls: type[S], path: str | Path | None, **overrides: Any) -> S:
    """Read `path` (YAML) into `cls`; ConfigError names the file and the bad field."""
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


class BrokerSettings(BaseModel):
    model_config = {"extra": "forbid"}
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    # 5 in production; 4 (3.1.1) only for brokers without MQTT 5 (the demo's embedded one).
    protocol: Literal[4, 5] = 5
    keepalive_s: int = Field(30, ge=5)


class DriverBlock(BaseModel):
    """One device: which driver, how often to sample, and the driver's own config."""

    model_config = {"extra": "forbid"}
    driver: str
    every_s: float = Field(5.0, gt=0)
    config: dict[str, Any] = Field(default_factory=dict)

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


class EdgeSettings(RoleSettings):
    gateway_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    broker: BrokerSettings = BrokerSettings()
    state_dir: Path  # outbox and boot epoch live here
    key_file: Path | None = None  # Ed25519 private key (PEM); unsigned without it
    batch: BatchSettings = BatchSettings()
    drivers: list[DriverBlock] = Field(default_factory=list)
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
