"""RotatedKeys on a fake store: what a rotate_key result must carry to be registered, and
how often an unknown key id makes it read the store again."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fakes_delivery import Clock, FakeRotatedKeyStore

from backend.services.rotated_keys import RotatedKeys
from edge import protocol
from edge.protocol.keys import KeyFileError, public_key_pem


def rotation(new_key: Ed25519PrivateKey, **result) -> protocol.CommandResult:
    body = {"new_key_id": protocol.key_fingerprint(new_key.public_key()),
            "new_public_key_pem": public_key_pem(new_key.public_key()).decode(), **result}
    return protocol.CommandResult("gw-1", "cmd-1", "rotate_key", "ok", "", body, at_ms=0)


def fingerprint(key) -> str:
    return protocol.key_fingerprint(key.public_key() if isinstance(key, Ed25519PrivateKey) else key)


def test_a_registered_key_is_stored_and_found_by_its_gateway_and_id_only():
    store, new_key = FakeRotatedKeyStore(), Ed25519PrivateKey.generate()
    keys = RotatedKeys(store)
    assert keys.register("gw-1", rotation(new_key), at_s=5.0) == fingerprint(new_key)
    assert [(k.gateway, k.key_id) for k in store.keys] == [("gw-1", fingerprint(new_key))] and store.added_at == [5.0]
    assert fingerprint(keys.key("gw-1", fingerprint(new_key))) == fingerprint(new_key)
    assert keys.key("gw-2", fingerprint(new_key)) is None


def test_every_key_of_a_gateway_oldest_first():
    store = FakeRotatedKeyStore()
    keys, first, second = RotatedKeys(store), Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys.register("gw-1", rotation(first), at_s=1.0)
    keys.register("gw-1", rotation(second), at_s=2.0)
    keys.register("gw-9", rotation(Ed25519PrivateKey.generate()), at_s=3.0)
    assert [fingerprint(k) for k in keys.of("gw-1")] == [fingerprint(first), fingerprint(second)]


@pytest.mark.parametrize("result, why", [({"new_public_key_pem": None}, "no new_public_key_pem"),
                                         ({"new_public_key_pem": "not a key"}, "not a PEM public key"),
                                         ({"new_key_id": "0" * 16}, "fingerprint")])
def test_a_result_that_does_not_carry_the_key_it_names_is_refused(result, why):
    store = FakeRotatedKeyStore()
    with pytest.raises(KeyFileError, match=why):
        RotatedKeys(store).register("gw-1", rotation(Ed25519PrivateKey.generate(), **result), at_s=1.0)
    assert store.keys == []


def test_an_unknown_key_id_reads_the_store_at_most_once_per_pause():
    store, clock = FakeRotatedKeyStore(), Clock(100.0)
    ingest_side = RotatedKeys(store, clock, refresh_every_s=2.0)
    new_key = Ed25519PrivateKey.generate()
    for _ in range(50):  # forged traffic naming a key nobody registered
        assert ingest_side.key("gw-1", fingerprint(new_key)) is None
    assert store.reads == 1
    RotatedKeys(store).register("gw-1", rotation(new_key), at_s=1.0)  # by another process
    clock.now_s += 1.9
    assert ingest_side.key("gw-1", fingerprint(new_key)) is None and store.reads == 1
    clock.now_s += 0.1
    assert fingerprint(ingest_side.key("gw-1", fingerprint(new_key))) == fingerprint(new_key)
    reads = store.reads
    assert ingest_side.key("gw-1", fingerprint(new_key)) is not None and store.reads == reads  # known: no read
