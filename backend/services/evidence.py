"""The evidence log as the banks meet it: signed checkpoints delivered to every lender,
consistency and inclusion proofs, the banks' cosignatures, gateway keys logged, and the
envelope archive's retention (docs/evidence.md).

A checkpoint is signed every `checkpoint_every_s` and after every critical alert (the
monitor wakes the loop), only when the log grew; each one goes to every lender's webhooks as
a `checkpoint` notice whose id is the tree size, so a restart never announces it twice.
"""
from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from backend.domain import checkpoint as notes
from backend.domain import evidence
from backend.domain.alerts import AlertOpened
from backend.domain.evidence import Entry
from backend.domain.notices import BankNotice
from backend.domain.registry import Registry
from backend.domain.tlog import consistency_proof, inclusion_proof, leaf_hash, root_hash
from backend.ports.evidence import EnvelopeArchive, LogSigner, LogStore, StoredCheckpoint, StoredCosignature
from backend.ports.webhooks import NoticeOutbox
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.background import WakeableLoop

log = logging.getLogger("pledgewatch.evidence")
_EXPIRE_EVERY_S = 86_400.0


class EvidenceNotFound(LookupError):
    """No such entry or checkpoint, or not one the caller may see."""


class EvidenceConflict(ValueError):
    """The request names sizes the log cannot answer for (beyond its size, or shrinking)."""


@dataclass(frozen=True)
class InclusionAnswer:
    index: int
    size: int
    leaf: bytes
    leaf_hash: bytes
    proof: list[bytes]
    checkpoint: str | None      # the signed checkpoint of that size, when there is one


class EvidenceService:
    def __init__(self, *, log_store: LogStore, archive: EnvelopeArchive, signer: LogSigner,
                 registry: Callable[[], Registry], notices: NoticeOutbox, clock: Callable[[], float],
                 witnesses: Mapping[str, Sequence[notes.Verifier]], retention_s: float) -> None:
        self.log, self.archive, self.signer, self.registry = log_store, archive, signer, registry
        self.notices, self.clock, self.witnesses, self.retention_s = notices, clock, witnesses, retention_s
        self._lock = threading.Lock()
        self._next_expiry_s = 0.0

    @property
    def verifier(self) -> notes.Verifier:
        return self.signer.verifier

    # -- checkpoints -----------------------------------------------------------------------
    def sign_checkpoint(self) -> StoredCheckpoint:
        """Sign the log as it is now, unless the latest checkpoint already covers it; deliver
        it to every lender (idempotent per size)."""
        with self._lock:
            size = self.log.size()
            latest = self.log.latest_checkpoint()
            if latest is None or latest.size < size:
                root = root_hash(self.log, size)
                text = notes.Checkpoint(self.verifier.name, size, root).text()
                note = notes.Note(text, (self.signer.sign(text),)).encode()
                self.log.add_checkpoint(StoredCheckpoint(size, root, note, self.clock()))
                latest = self.log.checkpoint(size)
                assert latest is not None
                log.info("evidence log checkpoint signed: size %d", size)
        self.notices.notify(self._notices(latest))
        return latest

    def _notices(self, checkpoint: StoredCheckpoint) -> list[BankNotice]:
        data = {"origin": self.verifier.name, "size": checkpoint.size,
                "root_hash": base64.b64encode(checkpoint.root_hash).decode(), "note": checkpoint.note,
                "log_vkey": self.verifier.vkey()}
        return [BankNotice(f"checkpoint-{checkpoint.size}", lender, "checkpoint", "signed", self.verifier.name,
                           checkpoint.signed_at_s, data) for lender in sorted(self.registry().lenders)]

    def latest(self) -> StoredCheckpoint:
        return self.log.latest_checkpoint() or self.sign_checkpoint()

    def with_cosignatures(self, checkpoint: StoredCheckpoint) -> str:
        """The checkpoint's note with every stored cosignature line added."""
        note = notes.parse_note(checkpoint.note)
        for cosignature in self.log.cosignatures([checkpoint.size]):
            note = note.with_signature(notes.parse_note(f"{note.text}\n{cosignature.line}\n").signatures[0])
        return note.encode()

    def consistency(self, old_size: int, new_size: int | None) -> tuple[int, list[bytes]]:
        """(new size, proof) that the log of old_size leaves is a prefix of new_size's (the
        latest checkpoint's when None)."""
        if new_size is None:
            new_size = self.latest().size
        size = self.log.size()
        if not 0 <= old_size <= new_size <= size:
            raise EvidenceConflict(f"no consistency proof from size {old_size} to {new_size}; the log holds {size}")
        return new_size, consistency_proof(self.log, old_size, new_size)

    def inclusion(self, caller: Principal, index: int, size: int | None) -> InclusionAnswer:
        """The entry at `index` with its proof in the tree of `size` (the latest checkpoint's
        when None). A lender asks only about entries that concern its own loans."""
        found = self.log.leaves([index])
        if not found:
            raise EvidenceNotFound(f"no entry {index}")
        leaf = found[0].leaf
        if not access.is_staff(caller) and not self._concerns(caller.lender, leaf):
            raise EvidenceNotFound(f"no entry {index}")
        size = self.latest().size if size is None else size
        if not index < size <= self.log.size():
            raise EvidenceConflict(f"entry {index} is not in a tree of size {size} (the log holds {self.log.size()})")
        stored = self.log.checkpoint(size)
        return InclusionAnswer(index, size, leaf, leaf_hash(leaf), inclusion_proof(self.log, index, size),
                               self.with_cosignatures(stored) if stored else None)

    def _concerns(self, lender: str | None, leaf: bytes) -> bool:
        if lender is None:
            return False
        return evidence.lender_scope(self.registry(), lender).covers(evidence.parse_leaf(leaf))

    # -- cosignatures ----------------------------------------------------------------------
    def cosign(self, caller: Principal, note_text: str) -> StoredCosignature:
        """Store a bank's cosignature on one of our checkpoints: the note must carry the log's
        signature and one by a witness key configured for the caller's lender."""
        keys = list(self.witnesses.get(caller.lender or "", ()))
        if not keys:
            raise EvidenceConflict(f"no witness key is configured for lender {caller.lender!r} (evidence.witnesses)")
        try:
            opened = notes.open_checkpoint(note_text, self.verifier, keys)
        except notes.NoteError as exc:
            raise EvidenceConflict(f"the checkpoint does not verify: {exc}") from exc
        stored = self.log.checkpoint(opened.checkpoint.size)
        if stored is None or stored.root_hash != opened.checkpoint.root_hash:
            raise EvidenceConflict(f"the log signed no checkpoint of size {opened.checkpoint.size} with that root")
        if not opened.cosignatures:
            raise EvidenceConflict(f"no cosignature by a witness key of lender {caller.lender}")
        cosigned = opened.cosignatures[0]
        note = notes.parse_note(note_text)
        line = next(s.line() for s in note.signatures if s.name == cosigned.name).rstrip("\n")
        record = StoredCosignature(stored.size, cosigned.name, caller.lender or "", cosigned.timestamp_s or 0,
                                   line, self.clock())
        self.log.add_cosignature(record)
        log.info("checkpoint %d cosigned by %s (%s)", stored.size, cosigned.name, caller.lender)
        return record

    # -- facts logged at start and by services -------------------------------------------
    def log_gateway_keys(self, keys: Mapping[str, tuple[str, bytes]], by: str) -> int:
        """Log each gateway's configured key (gateway -> (key id, raw public key)) once."""
        logged = {(e.subjects["gateway"], e.payload["key_id"])
                  for e in self._entries(self.log.of_kinds(["gateway_key.registered", "gateway_key.rotated"],
                                                           0, 2**53 - 1))}
        now_s = int(self.clock())
        entries = [Entry("gateway_key.registered", now_s, {"gateway": gateway},
                         {"by": by, "key_id": key_id, "public_key": base64.b64encode(raw).decode()})
                   for gateway, (key_id, raw) in sorted(keys.items()) if (gateway, key_id) not in logged]
        self.log.append(entries)
        return len(entries)

    @staticmethod
    def _entries(logged) -> list[Entry]:
        return [evidence.parse_leaf(e.leaf) for e in logged]

    # -- the archive's retention -----------------------------------------------------------
    def housekeeping(self) -> int:
        """Hold the envelopes of every gateway backing a pledge for the retention past now;
        at most daily, delete envelopes past both the retention and their hold."""
        now_s = self.clock()
        registry = self.registry()
        gateways = sorted({gateway for loan_id in registry.loans
                           for gateway in evidence.loan_scope(registry, loan_id).gateways})
        if gateways:
            self.archive.hold(gateways, int((now_s + self.retention_s) * 1000))
        if now_s < self._next_expiry_s:
            return 0
        self._next_expiry_s = now_s + _EXPIRE_EVERY_S
        expired = self.archive.expire(int(now_s * 1000), int(self.retention_s * 1000))
        if expired:
            log.info("evidence archive: %d envelopes past their retention deleted", expired)
        return expired


class CheckpointLoop(WakeableLoop):
    """Signs a checkpoint every `every_s` (sooner when woken: a critical alert) and runs the
    archive's housekeeping, on a named thread."""

    def __init__(self, service: EvidenceService, every_s: float) -> None:
        super().__init__(name="evidence-checkpoints", every_s=every_s)
        self.service = service

    def round(self) -> None:
        self.service.sign_checkpoint()
        self.service.housekeeping()


def critical_alert_opened(events: Sequence[object]) -> bool:
    """Whether the monitor's events hold a critical alert opening (a checkpoint is due)."""
    return any(isinstance(e, AlertOpened) and e.alert.severity == "critical" for e in events)
