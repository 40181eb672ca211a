"""Keys gateways rotated to (SQLite and PostgreSQL): registered by one process, found by
another's ingest; an unknown key id reads the database at most every few seconds."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.rotated_keys_repo import SqlRotatedKeys
from backend.services.rotated_keys import RotatedKeys
from edge import protocol
from edge.protocol.keys import KeyFileError, public_key_pem


class Clock:
    now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


class CountingRepo(SqlRotatedKeys):
    reads = 0

    def all(self):
        self.reads += 1
        return super().all()


def rotation(new_key: Ed25519PrivateKey, key_id: str | None = None) -> protocol.CommandResult:
    fingerprint = protocol.key_fingerprint(new_key.public_key())
    return protocol.CommandResult("gw-1", "cmd-1", "rotate_key", "ok", "", at_ms=0, result={
        "previous_key_id": "old", "new_key_id": key_id or fingerprint,
        "new_public_key_pem": public_key_pem(new_key.public_key()).decode()})


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_a_key_registered_elsewhere_is_found_by_its_id(engine):
    api_side = RotatedKeys(SqlRotatedKeys(engine))
    clock, repo = Clock(), CountingRepo(engine)
    ingest_side = RotatedKeys(repo, clock, refresh_every_s=2.0)
    new_key = Ed25519PrivateKey.generate()
    key_id = protocol.key_fingerprint(new_key.public_key())
    assert ingest_side.key("gw-1", key_id) is None          # not yet: one read
    api_side.register("gw-1", rotation(new_key), at_s=1.0)
    assert ingest_side.key("gw-1", key_id) is None          # within the pause: no read
    assert repo.reads == 1
    clock.now_s += 2.0
    found = ingest_side.key("gw-1", key_id)
    assert found is not None and protocol.key_fingerprint(found) == key_id
    assert ingest_side.key("gw-2", key_id) is None           # the key of gw-1 only
    api_side.register("gw-1", rotation(new_key), at_s=2.0)   # reported twice: kept once
    assert [protocol.key_fingerprint(k) for k in api_side.of("gw-1")] == [key_id]


def test_a_result_whose_key_is_not_the_one_it_names_is_refused(engine):
    keys = RotatedKeys(SqlRotatedKeys(engine))
    with pytest.raises(KeyFileError, match="fingerprint"):
        keys.register("gw-1", rotation(Ed25519PrivateKey.generate(), key_id="0" * 16), at_s=1.0)
    assert keys.of("gw-1") == []
