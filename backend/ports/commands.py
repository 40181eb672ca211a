"""Ports of remote commands: publishing a signed command to a gateway and waiting for its
answer, and the store of keys gateways rotated to."""
from __future__ import annotations

from typing import NamedTuple, Protocol


class CommandTransportError(Exception):
    """The broker could not be reached or refused us."""


class CommandPublisher(Protocol):
    def send(self, gateway: str, command_id: str, wire: bytes, wait_s: float) -> bytes | None:
        """Publish `wire` to the gateway; its raw answer to `command_id`, or None when none
        came within `wait_s`. Raises CommandTransportError."""


class RotatedKey(NamedTuple):
    gateway: str
    key_id: str  # the key's fingerprint
    public_key_pem: str


class RotatedKeyStore(Protocol):
    """Shared by every backend process: a key registered by one is found by the others."""

    def add(self, gateway: str, key_id: str, public_key_pem: str, at_s: float) -> bool:
        """Record a key (once: the same rotation reported twice changes nothing); True when new."""

    def all(self) -> list[RotatedKey]:
        """Oldest first."""
