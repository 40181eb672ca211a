"""Remote commands to gateways: build and sign a command, send it, check what came back.

The backend signs commands with its own Ed25519 command key (never a gateway's): by
convention `<data_dir>/keys/backend-command.key` (PEM, PKCS8), whose public key goes into
every edge config as `commands.backend_public_key_pem`. `pledgewatch demo` makes both.
Bootstrap loads it once, at start-up; without it commands are off.

Key rotation (`rotate_key`): the gateway answers with its new public key, signed with its
OLD key. The service verifies that signature against the gateway's known keys and
registers the new key (backend/services/rotated_keys.py), which ingest then accepts.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.ports.commands import CommandPublisher, CommandTransportError
from backend.services.rotated_keys import RotatedKeys
from edge import protocol
from edge.protocol.keys import KeyFileError

log = logging.getLogger("pledgewatch.commands")

COMMAND_KEY_PATH = Path("keys") / "backend-command.key"  # under the backend's data_dir


class CommandError(Exception):
    """The command cannot be sent, or its answer not used; the message says why."""


class UnknownGateway(CommandError):
    pass


class CommandsOff(CommandError):
    """The backend has no command key."""


class GatewayUnreachable(CommandError):
    """The broker could not be reached or refused us."""


class UnusableAnswer(CommandError):
    """The gateway's signed answer does not hold what it should (a rotate_key without its key)."""


@dataclass(frozen=True)
class Outcome:
    command: protocol.Command
    result: protocol.CommandResult | None  # None: no answer within the wait
    verified: bool  # the result's signature checks out against the registered gateway key


def build_command(gateway: str, name: str, args: Mapping[str, Any], signer: protocol.Signer,
                  now_s: float, ttl_s: float) -> tuple[protocol.Command, bytes]:
    """A fresh command id, valid from now for `ttl_s`, signed: (command, wire bytes)."""
    issued_ms = round(now_s * 1000)
    command = protocol.Command(f"cmd-{secrets.token_hex(8)}", gateway, name, dict(args),
                               issued_ms, issued_ms + round(ttl_s * 1000))
    return command, protocol.encode_command(command, signer)


def read_result(payload: bytes, command: protocol.Command,
                gateway_keys: Sequence[Ed25519PublicKey]) -> Outcome:
    """Decode the gateway's answer to `command` and check its signature against the
    gateway's keys (the configured one, and those it rotated to)."""
    result = protocol.decode_command_result(payload, protocol.topic(command.gateway, "cmd-result"))
    verified = False
    if gateway_keys:
        key_id = result.signature.key_id if result.signature else None
        key = next((k for k in gateway_keys if protocol.key_fingerprint(k) == key_id), gateway_keys[0])
        try:
            protocol.verify_command_result(result, key)
            verified = True
        except protocol.DecodeError as exc:
            log.warning("gateway %s: result of %s has a bad signature: %s", command.gateway,
                        command.id, exc)
    return Outcome(command, result, verified)


class CommandService:
    """Signed commands to the registered gateways, and what their signed answers mean."""

    def __init__(self, *, signer: protocol.Signer | None, publisher: CommandPublisher,
                 gateway_keys: Mapping[str, Ed25519PublicKey | None], rotated: RotatedKeys,
                 clock: Callable[[], float]) -> None:
        """`signer`: the backend's command key (None: commands are off); `gateway_keys`: every
        registered gateway with its configured key (None: registered without one)."""
        self.signer, self.publisher, self.gateway_keys = signer, publisher, gateway_keys
        self.rotated, self.clock = rotated, clock

    def send(self, gateway: str, name: str, args: Mapping[str, Any], *, ttl_s: float, wait_s: float) -> Outcome:
        """Sign and send one command and wait up to `wait_s` for the answer (result None
        without one). A verified, successful `rotate_key` registers the gateway's new key."""
        if gateway not in self.gateway_keys:
            raise UnknownGateway(f"no gateway {gateway!r}")
        if self.signer is None:
            raise CommandsOff(f"no backend command key (<data_dir>/{COMMAND_KEY_PATH}): commands are disabled")
        command, wire = build_command(gateway, name, args, self.signer, self.clock(), ttl_s)
        try:
            answer = self.publisher.send(gateway, command.id, wire, wait_s)
        except CommandTransportError as exc:
            raise GatewayUnreachable(str(exc)) from exc
        if answer is None:
            return Outcome(command, None, False)
        outcome = read_result(answer, command, self._keys_of(gateway))
        result = outcome.result
        if outcome.verified and result.command == "rotate_key" and result.status == "ok":
            self._register_rotation(gateway, result)
        return outcome

    def _keys_of(self, gateway: str) -> list[Ed25519PublicKey]:
        configured = self.gateway_keys[gateway]
        return ([configured] if configured is not None else []) + self.rotated.of(gateway)

    def _register_rotation(self, gateway: str, result: protocol.CommandResult) -> None:
        try:
            key_id = self.rotated.register(gateway, result, self.clock())
        except KeyFileError as exc:
            raise UnusableAnswer(f"the gateway's rotate_key result is unusable: {exc}") from exc
        log.info("gateway %s rotated its key to %s; registered", gateway, key_id)
