"""How a role reaches the broker: the `broker:` block every role's settings share.

Pydantic models (nested in each role's settings), so a wrong field fails at start-up by name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, model_validator


def _readable(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


ReadableFile = Annotated[Path, AfterValidator(_readable)]


def _broker_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"not a broker URL (mqtt://host:port or mqtts://host:port): {url!r}")
    try:
        parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in {url!r}") from exc
    return url


BrokerUrl = Annotated[str, AfterValidator(_broker_url)]


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
    # 5 with Mosquitto (the default); 4 (MQTT 3.1.1) for brokers without MQTT 5: the NATS
    # cluster's MQTT listeners, the demo's embedded broker (docs/protocol.md, "MQTT 3.1.1").
    protocol: Literal[4, 5] = 5
    keepalive_s: int = Field(30, ge=5)
    # Several brokers of one cluster, tried in turn on each disconnect: mqtt://host:port, or
    # mqtts://host:port with the tls block (which then applies to each). Empty: host and port.
    urls: list[BrokerUrl] = Field(default_factory=list)
    # QoS of our subscriptions (the agent's ack and cmd, the backend's cmd-result). 0 on NATS:
    # its MQTT listener delivers what the backend publishes over NATS at QoS 0 anyway, and each
    # QoS 1 subscription costs a JetStream consumer made on every connect (docs/deploy.md).
    subscribe_qos: Literal[0, 1] = 1

    @model_validator(mode="after")
    def _one_way_to_name_brokers(self) -> "BrokerSettings":
        if self.urls and {"host", "port"} & self.model_fields_set:
            raise ValueError("give broker.urls or broker.host/port, not both")
        scheme = "mqtts" if self.tls else "mqtt"
        for url in self.urls:
            if urlsplit(url).scheme != scheme:
                raise ValueError(f"broker.urls: {url!r} should be {scheme}:// "
                                 f"({'with' if self.tls else 'without'} the tls block)")
        return self

    def endpoints(self) -> list[tuple[str, int]]:
        """(host, port) of each broker, in the order to try them."""
        if not self.urls:
            return [(self.host, self.port)]
        default_port = 8883 if self.tls else 1883
        return [(parts.hostname or "", parts.port or default_port) for parts in map(urlsplit, self.urls)]
