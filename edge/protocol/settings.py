"""How every role (gateway agent, backend, device simulator) reads its settings.

A role's settings come from one YAML file (`--config FILE`) overridden by environment
variables with the `PW_` prefix (nested fields with `__`, e.g. PW_BROKER__PORT=1884).
A wrong field fails at start-up with its dotted name. Also the field types roles share.
"""
from __future__ import annotations

import difflib
import os
import typing
from pathlib import Path
from typing import Annotated, Any, Mapping, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from edge.protocol.keys import KeyFileError, load_public_key

S = TypeVar("S", bound=BaseSettings)


class ConfigError(ValueError):
    """Bad configuration; the message names the file and the field."""


class RoleSettings(BaseSettings):
    """Base of every role's settings: file values, then PW_* environment overrides."""

    model_config = SettingsConfigDict(env_prefix="PW_", env_nested_delimiter="__", extra="forbid")

    @classmethod
    def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
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


def _checked_pem(pem: str) -> str:
    try:
        load_public_key(pem)
    except KeyFileError as exc:
        raise ValueError(str(exc)) from exc
    return pem


# A settings field holding an Ed25519 public key in PEM: refused at start-up if it does not parse.
PublicKeyPem = Annotated[str, AfterValidator(_checked_pem)]
