"""How the gateway takes acks: a legacy ack from an older backend still drains the outbox,
until the first ranged ack of the session; a ranged ack must carry the backend's signature
when the gateway knows the backend's key."""
from __future__ import annotations

import asyncio

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge import protocol
from edge.config import EdgeSettings
from edge.outbox import Batch, Outbox
from edge.protocol.keys import public_key_pem
from edge.uplink import Uplink

BACKEND_KEY = Ed25519PrivateKey.generate()


def uplink(tmp_path, knows_backend_key: bool = True) -> Uplink:
    commands = {"backend_public_key_pem": public_key_pem(BACKEND_KEY.public_key()).decode()} \
        if knows_backend_key else {}
    settings = EdgeSettings(gateway_id="gw-1", state_dir=tmp_path, commands=commands)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    for seq in range(1, 6):
        outbox.append(Batch(1, seq, b"x", 1))
    return Uplink(settings, 1, outbox, dict, dict)


def take(up: Uplink, ack: protocol.Ack, signer=None) -> list[int]:
    asyncio.run(up._on_ack(protocol.encode_ack(ack, signer)))
    return [b.seq for b in up.outbox.pending()]


def test_a_legacy_ack_drains_until_a_ranged_ack_came(tmp_path):
    up = uplink(tmp_path)
    assert take(up, protocol.Ack("gw-1", 1, 2)) == [3, 4, 5]  # an older backend
    assert take(up, protocol.Ack("gw-1", 1, 3, (4,), {}, ()), protocol.Signer(BACKEND_KEY)) == [3, 5]
    assert take(up, protocol.Ack("gw-1", 1, 5)) == [3, 5]  # legacy ignored from now on


def test_a_ranged_ack_without_the_backend_signature_is_ignored(tmp_path):
    up = uplink(tmp_path)
    forged_nack = protocol.Ack("gw-1", 1, 0, (), {1: "future_timestamp"}, ())
    assert take(up, forged_nack, protocol.Signer(Ed25519PrivateKey.generate())) == [1, 2, 3, 4, 5]
    assert take(up, forged_nack) == [1, 2, 3, 4, 5]  # unsigned
    assert up.outbox.refused() == []


def test_without_the_backend_key_ranged_acks_are_taken_unsigned(tmp_path):
    up = uplink(tmp_path, knows_backend_key=False)
    assert take(up, protocol.Ack("gw-1", 1, 0, (1,), {2: "unknown_sensor"}, ())) == [3, 4, 5]
    assert [(seq, reason) for _, seq, reason, _ in up.outbox.refused()] == [(2, "unknown_sensor")]
