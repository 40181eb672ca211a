"""Remote commands to gateways: build and sign a command, check what came back.

The backend signs commands with its own Ed25519 command key (never a gateway's): by
convention `<data_dir>/keys/backend-command.key` (PEM, PKCS8), whose public key goes into
every edge config as `commands.backend_public_key_pem`. `pledgewatch demo` makes both.

Key rotation (`rotate_key`): the gateway answers with its new public key, signed with its
OLD key. This module verifies that signature against the gateway's known keys; the route
then registers the new key (backend/services/rotated_keys.py), and ingest accepts it.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge import protocol
from edge.protocol.keys import KeyFileError, load_private_key

log = logging.getLogger("pledgewatch.commands")

COMMAND_KEY_PATH = Path("keys") / "backend-command.key"  # under the backend's data_dir


class CommandError(Exception):
    """The command cannot be sent (no key, unknown gateway); the message says why."""


@dataclass(frozen=True)
class Outcome:
    command: protocol.Command
    result: protocol.CommandResult | None  # None: no answer within the wait
    verified: bool  # the result's signature checks out against the registered gateway key


def load_command_signer(data_dir: Path) -> protocol.Signer:
    path = data_dir / COMMAND_KEY_PATH
    if not path.exists():
        raise CommandError(f"no backend command key at {path}: commands are disabled")
    try:
        return protocol.Signer(load_private_key(path))
    except KeyFileError as exc:
        raise CommandError(str(exc)) from exc


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
