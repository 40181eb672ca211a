"""How a role reaches the broker: the `broker:` block every role's settings share.

Pydantic models (nested in each role's settings), so a wrong field fails at start-up by name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator


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
