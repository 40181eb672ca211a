"""CommandService on fakes: it signs with the backend's key, on the context clock, only for
registered gateways; it checks the answer's signature and registers a rotated key."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fakes_delivery import Clock, FakeGateway, FakeRotatedKeyStore, ok

from backend.ports.commands import CommandTransportError
from backend.services.commands import (
    CommandService,
    CommandsOff,
    GatewayUnreachable,
    UnknownGateway,
    UnusableAnswer,
)
from backend.services.rotated_keys import RotatedKeys
from edge import protocol
from edge.protocol.keys import public_key_pem


class Rig:
    def __init__(self, answer=ok, signer_key: Ed25519PrivateKey | None = None, command_key: bool = True) -> None:
        self.backend_key, self.gateway_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        self.gateway = FakeGateway(signer_key or self.gateway_key, answer)
        self.store, self.clock = FakeRotatedKeyStore(), Clock(1_700_000_000.25)
        self.service = CommandService(
            signer=protocol.Signer(self.backend_key) if command_key else None, publisher=self.gateway,
            gateway_keys={"gw-1": self.gateway_key.public_key(), "gw-bare": None},
            rotated=RotatedKeys(self.store), clock=self.clock)


def test_a_command_is_signed_with_the_backend_key_and_timed_by_the_context_clock():
    rig = Rig()
    outcome = rig.service.send("gw-1", "set_interval", {"driver_index": 0, "every_s": 7.5}, ttl_s=60, wait_s=5)
    [command] = rig.gateway.received
    protocol.verify_command(command, rig.backend_key.public_key())
    with pytest.raises(protocol.DecodeError):
        protocol.verify_command(command, rig.gateway_key.public_key())
    assert (command.gateway, command.name, dict(command.args)) == ("gw-1", "set_interval",
                                                                   {"driver_index": 0, "every_s": 7.5})
    assert (command.issued_at_ms, command.expires_at_ms) == (1_700_000_000_250, 1_700_000_060_250)
    assert outcome.command.id == command.id and outcome.result.status == "ok" and outcome.verified


def test_an_unknown_gateway_is_refused_and_nothing_is_sent():
    rig = Rig()
    with pytest.raises(UnknownGateway, match="gw-other"):
        rig.service.send("gw-other", "rebirth", {}, ttl_s=60, wait_s=5)
    assert rig.gateway.received == []


def test_without_a_command_key_commands_are_off():
    rig = Rig(command_key=False)
    with pytest.raises(CommandsOff, match="backend-command.key"):
        rig.service.send("gw-1", "rebirth", {}, ttl_s=60, wait_s=5)
    assert rig.gateway.received == []


def test_a_broker_that_cannot_be_reached_is_a_gateway_unreachable():
    rig = Rig()
    rig.gateway.failure = CommandTransportError("broker 127.0.0.1:1: refused")
    with pytest.raises(GatewayUnreachable, match="refused"):
        rig.service.send("gw-1", "rebirth", {}, ttl_s=60, wait_s=5)


def test_no_answer_within_the_wait_is_an_outcome_without_result():
    outcome = Rig(answer=lambda command: None).service.send("gw-1", "rebirth", {}, ttl_s=60, wait_s=0)
    assert outcome.result is None and not outcome.verified


def test_an_answer_signed_by_another_key_is_not_verified():
    outcome = Rig(signer_key=Ed25519PrivateKey.generate()).service.send("gw-1", "rebirth", {}, ttl_s=60, wait_s=5)
    assert outcome.result.status == "ok" and not outcome.verified


def test_a_gateway_registered_without_a_key_is_never_verified():
    outcome = Rig().service.send("gw-bare", "rebirth", {}, ttl_s=60, wait_s=5)
    assert outcome.result is not None and not outcome.verified


def rotation_to(new_key: Ed25519PrivateKey, key_id: str | None = None):
    def answer(command: protocol.Command) -> protocol.CommandResult:
        return protocol.CommandResult(command.gateway, command.id, "rotate_key", "ok", "", {
            "new_key_id": key_id or protocol.key_fingerprint(new_key.public_key()),
            "new_public_key_pem": public_key_pem(new_key.public_key()).decode()}, command.issued_at_ms)
    return answer


def test_a_verified_rotation_registers_the_new_key_and_its_answers_then_verify():
    new_key = Ed25519PrivateKey.generate()
    rig = Rig(answer=rotation_to(new_key))
    outcome = rig.service.send("gw-1", "rotate_key", {}, ttl_s=60, wait_s=5)
    assert outcome.verified  # signed with the OLD key
    new_key_id = protocol.key_fingerprint(new_key.public_key())
    assert [k.key_id for k in rig.store.keys] == [new_key_id] and rig.store.added_at == [rig.clock()]
    rig.gateway.signer, rig.gateway.answer = protocol.Signer(new_key), ok
    assert rig.service.send("gw-1", "rebirth", {}, ttl_s=60, wait_s=5).verified


def test_an_unverified_rotation_registers_nothing():
    rig = Rig(answer=rotation_to(Ed25519PrivateKey.generate()), signer_key=Ed25519PrivateKey.generate())
    assert not rig.service.send("gw-1", "rotate_key", {}, ttl_s=60, wait_s=5).verified
    assert rig.store.keys == []


def test_a_rotation_naming_another_key_is_unusable_and_registers_nothing():
    rig = Rig(answer=rotation_to(Ed25519PrivateKey.generate(), key_id="0" * 16))
    with pytest.raises(UnusableAnswer, match="fingerprint"):
        rig.service.send("gw-1", "rotate_key", {}, ttl_s=60, wait_s=5)
    assert rig.store.keys == []
