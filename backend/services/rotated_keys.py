"""Keys gateways rotated to with `rotate_key`, accepted beside the key in the config.

The gateway answers `rotate_key` with its new public key, signed with its old one; the
command service checks that signature and registers the new key here. Every backend process
(ingest, API) reads the same table, so the gateway's next batches verify without a restart.
The configured key stays valid too: batches already in the gateway's outbox carry it. To
retire it, put the new key into the config (docs/edge.md).
"""
from __future__ import annotations

import base64
import threading
import time
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.domain.evidence import Entry
from backend.ports.commands import RotatedKeyStore
from backend.ports.evidence import EvidenceLog
from edge import protocol
from edge.protocol.keys import KeyFileError, load_public_key

# An unknown key id looks in the database at most this often: forged traffic naming random
# keys must not turn into a query per message.
REFRESH_EVERY_S = 0.5


class RotatedKeys:
    def __init__(self, repo: RotatedKeyStore, clock: Callable[[], float] = time.monotonic,
                 refresh_every_s: float = REFRESH_EVERY_S, evidence_log: EvidenceLog | None = None) -> None:
        self.repo, self.clock, self.refresh_every_s = repo, clock, refresh_every_s
        self.evidence_log = evidence_log  # each rotation is logged (gateway_key.rotated)
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], Ed25519PublicKey] = {}
        self._refreshed_at: float | None = None

    def key(self, gateway: str, key_id: str) -> Ed25519PublicKey | None:
        """The key `gateway` rotated to whose fingerprint is `key_id`, if registered."""
        with self._lock:
            found = self._keys.get((gateway, key_id))
            now = self.clock()
            if found is None and (self._refreshed_at is None
                                  or now - self._refreshed_at >= self.refresh_every_s):
                self._refreshed_at = now
                self._keys = {(k.gateway, k.key_id): load_public_key(k.public_key_pem) for k in self.repo.all()}
                found = self._keys.get((gateway, key_id))
            return found

    def of(self, gateway: str) -> list[Ed25519PublicKey]:
        """Every key `gateway` rotated to, oldest first."""
        return [load_public_key(k.public_key_pem) for k in self.repo.all() if k.gateway == gateway]

    def register(self, gateway: str, result: protocol.CommandResult, at_s: float) -> str:
        """Record the new key of a verified `rotate_key` result; returns its key id.
        Raises KeyFileError when the result does not carry the key it names."""
        pem, key_id = result.result.get("new_public_key_pem"), result.result.get("new_key_id")
        if not isinstance(pem, str):
            raise KeyFileError("the rotate_key result carries no new_public_key_pem")
        key = load_public_key(pem)
        if protocol.key_fingerprint(key) != key_id:
            raise KeyFileError("the new key's fingerprint is not the new_key_id it names")
        if self.repo.add(gateway, key_id, pem, at_s) and self.evidence_log is not None:
            previous = result.signature.key_id if result.signature else ""
            self.evidence_log.append([Entry("gateway_key.rotated", int(at_s), {"gateway": gateway}, {
                "by": "system", "key_id": key_id, "public_key": base64.b64encode(key.public_bytes_raw()).decode(),
                "previous_key_id": previous})])
        with self._lock:
            self._keys[(gateway, key_id)] = key
        return key_id
