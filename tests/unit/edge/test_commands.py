"""Signed commands: the gateway runs only what the backend signed, once, inside its window."""
from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge import protocol
from edge.commands import CommandHandler, CommandRefused
from edge.config import CommandSettings
from edge.protocol.keys import public_key_pem

NOW_S = 1_800_000_000.0
TOPIC = "pw/v1/gw-1/cmd"


class FakeGateway:
    """The agent's command actions, recorded."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.signer = protocol.Signer(key)
        self.intervals = [5.0, 5.0]

    def current_signer(self):
        return self.signer

    def set_interval(self, driver_index, every_s):
        if driver_index >= len(self.intervals):
            raise CommandRefused(f"no driver {driver_index}")
        self.intervals[driver_index] = every_s
        return {"every_s": every_s}

    async def rotate_key(self):
        self.signer = protocol.Signer(Ed25519PrivateKey.generate())
        return {"new_key_id": self.signer.key_id}


def make_handler(backend_key: Ed25519PrivateKey, gateway: FakeGateway) -> CommandHandler:
    seen: set[str] = set()

    async def remember(command_id, expires_at_ms, now_ms):
        if command_id in seen:
            return False
        seen.add(command_id)
        return True

    settings = CommandSettings(backend_public_key_pem=public_key_pem(backend_key.public_key()).decode())
    return CommandHandler("gw-1", settings, gateway, remember, clock=lambda: NOW_S)


def command(name="set_interval", args=None, command_id="cmd-0001", issued_s=NOW_S, ttl_s=60.0):
    return protocol.Command(command_id, "gw-1", name, args if args is not None else
                            {"driver_index": 1, "every_s": 30}, round(issued_s * 1000),
                            round((issued_s + ttl_s) * 1000))


def handle(handler, wire: bytes):
    return asyncio.run(handler.handle(wire, TOPIC))


@pytest.fixture
def keys():
    return Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def test_a_signed_command_runs_and_its_result_is_signed_by_the_gateway(keys):
    backend_key, gateway_key = keys
    gateway = FakeGateway(gateway_key)
    result, wire = handle(make_handler(backend_key, gateway),
                          protocol.encode_command(command(), protocol.Signer(backend_key)))
    assert (result.status, result.result) == ("ok", {"every_s": 30.0}) and gateway.intervals == [5.0, 30.0]
    decoded = protocol.decode_command_result(wire, "pw/v1/gw-1/cmd-result")
    protocol.verify_command_result(decoded, gateway_key.public_key())
    assert decoded.id == "cmd-0001" and decoded.command == "set_interval"


def test_a_forged_command_is_refused_and_not_run(keys):
    backend_key, gateway_key = keys
    gateway = FakeGateway(gateway_key)
    forger = protocol.Signer(Ed25519PrivateKey.generate())
    result, _ = handle(make_handler(backend_key, gateway), protocol.encode_command(command(), forger))
    assert result.status == "refused" and "bad_signature" in result.detail
    assert gateway.intervals == [5.0, 5.0]


def test_a_tampered_command_is_refused(keys):
    backend_key, gateway_key = keys
    gateway = FakeGateway(gateway_key)
    wire = protocol.encode_command(command(), protocol.Signer(backend_key)).replace(b'"every_s":30', b'"every_s":1')
    result, _ = handle(make_handler(backend_key, gateway), wire)
    assert result.status == "refused" and gateway.intervals == [5.0, 5.0]


@pytest.mark.parametrize("issued_s, ttl_s, reason", [
    (NOW_S - 120, 60.0, "expired"),
    (NOW_S + 3600, 60.0, "not_yet_valid"),
    (NOW_S, 86_400.0, "ttl_too_long"),
])
def test_a_command_outside_its_window_is_refused(keys, issued_s, ttl_s, reason):
    backend_key, gateway_key = keys
    wire = protocol.encode_command(command(issued_s=issued_s, ttl_s=ttl_s), protocol.Signer(backend_key))
    result, _ = handle(make_handler(backend_key, FakeGateway(gateway_key)), wire)
    assert (result.status, result.detail) == ("refused", reason)


def test_a_replayed_command_is_refused(keys):
    backend_key, gateway_key = keys
    handler = make_handler(backend_key, FakeGateway(gateway_key))
    wire = protocol.encode_command(command(), protocol.Signer(backend_key))
    assert handle(handler, wire)[0].status == "ok"
    assert handle(handler, wire)[0].detail.startswith("replayed")


def test_rotate_key_result_is_signed_with_the_old_key(keys):
    backend_key, gateway_key = keys
    gateway = FakeGateway(gateway_key)
    wire = protocol.encode_command(command("rotate_key", {}), protocol.Signer(backend_key))
    result, result_wire = handle(make_handler(backend_key, gateway), wire)
    assert result.status == "ok" and result.result["new_key_id"] == gateway.signer.key_id
    protocol.verify_command_result(protocol.decode_command_result(result_wire), gateway_key.public_key())


def test_bad_arguments_and_no_backend_key_are_refused(keys):
    backend_key, gateway_key = keys
    signer = protocol.Signer(backend_key)
    handler = make_handler(backend_key, FakeGateway(gateway_key))
    bad = protocol.encode_command(command(args={"driver_index": 0, "every_s": -1}), signer)
    assert handle(handler, bad)[0].status == "refused"
    extra = protocol.encode_command(command("rebirth", {"x": 1}, command_id="cmd-0002"), signer)
    assert handle(handler, extra)[0].status == "refused"
    closed = CommandHandler("gw-1", CommandSettings(), FakeGateway(gateway_key), None, lambda: NOW_S)
    assert "no backend command key" in handle(closed, protocol.encode_command(command(), signer))[0].detail


def test_a_command_signature_is_not_a_data_signature(keys):
    backend_key, _ = keys
    cmd = protocol.decode_command(protocol.encode_command(command(), protocol.Signer(backend_key)))
    with pytest.raises(protocol.DecodeError):  # same key, other context
        protocol.verify_signature(cmd.signature, cmd.signed_bytes, backend_key.public_key(),
                                  protocol.DATA_SIGNING_CONTEXT)
    with pytest.raises(protocol.DecodeError, match="gateway_mismatch"):
        protocol.decode_command(protocol.encode_command(command(), protocol.Signer(backend_key)),
                                "pw/v1/gw-2/cmd")


def test_heartbeat_round_trips():
    wire = protocol.encode_heartbeat("gw-1", 3, 1000, {"outbox_depth": 2})
    beat = protocol.decode_heartbeat(wire, "pw/v1/gw-1/heartbeat")
    assert (beat.gateway, beat.epoch, beat.at_ms, dict(beat.info)) == ("gw-1", 3, 1000, {"outbox_depth": 2})
