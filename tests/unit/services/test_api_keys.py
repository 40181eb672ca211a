"""ApiKeyring on a fake store: keys made through the API and keys from the config file,
who they authenticate as, revocation, and whether an admin exists."""
from __future__ import annotations

from fakes_delivery import Clock, FakeApiKeys

from backend.services.api_keys import ApiKeyring, Principal, hash_api_key
from backend.settings import ApiKeyEntry


def keyring(*configured: ApiKeyEntry) -> ApiKeyring:
    return ApiKeyring(configured, FakeApiKeys(), Clock(500.0))


def entry(name: str, role: str, key: str, lender: str | None = None) -> ApiKeyEntry:
    return ApiKeyEntry(name=name, role=role, lender=lender, key_hash=hash_api_key(key))


def test_a_made_key_authenticates_as_its_principal_and_only_its_hash_is_stored():
    ring = keyring()
    record, key = ring.create("north-desk", "lender", "bank-north", created_by="root")
    assert key.startswith(f"pw_{record.id}_")
    assert ring.authenticate(key) == Principal("north-desk", "lender", "bank-north")
    stored = ring.listed()
    assert stored == [record] and record.created_at_s == 500.0 and record.created_by == "root"
    assert key not in repr(stored) and record.key_hash.startswith("sha256$")


def test_a_wrong_secret_behind_a_known_id_is_refused():
    ring = keyring(entry("cfg", "admin", "x"))
    record, key = ring.create("ops", "supervisor", None, created_by="root")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert ring.authenticate(forged) is None
    assert ring.authenticate(f"pw_{'0' * 12}_{'x' * 40}") is None  # an id nobody made


def test_a_revoked_key_no_longer_authenticates_and_is_revoked_once():
    ring = keyring()
    record, key = ring.create("ops", "supervisor", None, created_by="root")
    assert ring.revoke(record.id) and not ring.revoke(record.id) and not ring.revoke("nope")
    assert ring.authenticate(key) is None
    assert ring.listed()[0].revoked_at_s == 500.0


def test_configured_keys_authenticate_by_their_hash():
    ring = keyring(entry("demo-admin", "admin", "k-admin"), entry("north", "lender", "k-north", "bank-north"))
    assert ring.authenticate("k-north") == Principal("north", "lender", "bank-north")
    assert ring.authenticate("k-admin") == Principal("demo-admin", "admin", None)
    assert ring.authenticate("k-nobody") is None


def test_an_admin_exists_while_a_configured_or_unrevoked_stored_admin_key_does():
    assert keyring(entry("root", "admin", "k")).has_admin()
    ring = keyring(entry("ops", "supervisor", "k"))
    assert not ring.has_admin()
    record, _ = ring.create("root", "admin", None, created_by="bootstrap")
    assert ring.has_admin()
    ring.revoke(record.id)
    assert not ring.has_admin()
