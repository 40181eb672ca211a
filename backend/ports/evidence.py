"""Ports of the evidence log (docs/evidence.md): appending entries, reading the tree and its
checkpoints, the archive of raw signed envelopes, and where a dispute pack is written.

`EvidenceLog.append` is the one call a service makes to log a decision or a fact. A writer
that already holds a database transaction for the row it records (an alert, a pledge) logs
in that same transaction instead, through its adapter (backend.adapters.db.evidence_repo.
append_entries), so the row and its entry commit together.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from backend.domain.checkpoint import Signature, Verifier
from backend.domain.evidence import Entry


class EvidenceLog(Protocol):
    def append(self, entries: Sequence[Entry]) -> list[int]:
        """Append in a transaction of its own (appends are serialized across processes);
        returns each entry's index in the log."""
        ...


@dataclass(frozen=True)
class LoggedEntry:
    index: int
    leaf: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root_hash: bytes
    note: str                  # the signed note as the log signed it (its signature only)
    signed_at_s: float


@dataclass(frozen=True)
class StoredCosignature:
    size: int
    witness: str               # the witness key's name
    lender: str
    timestamp_s: int
    line: str                  # the note's signature line, as the bank sent it
    received_at_s: float


class LogStore(EvidenceLog, Protocol):
    """The log as the checkpoint, proof and export code reads it."""

    def size(self) -> int: ...

    def subtree_hash(self, level: int, index: int) -> bytes:
        """tlog.SubtreeHashes: the perfect subtree's hash, as stored when it completed."""
        ...

    def nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Many perfect-subtree hashes at once, keyed (level, index); missing ones left out."""
        ...

    def leaves(self, indices: Sequence[int]) -> list[LoggedEntry]:
        """The stored leaves at `indices` (missing ones left out), in index order."""
        ...

    def about(self, subjects: Sequence[tuple[str, str]], from_s: int, to_s: int,
              kinds: Sequence[str] | None = None) -> list[LoggedEntry]:
        """Entries (batch.ingested excepted) naming any (subject, id) of `subjects`, with
        from_s <= at_s <= to_s, of `kinds` (None: every kind), in index order."""
        ...

    def of_kinds(self, kinds: Sequence[str], from_s: int, to_s: int) -> list[LoggedEntry]: ...

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> bool:
        """Store a signed checkpoint; False when one of that size is stored already."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    def checkpoint(self, size: int) -> StoredCheckpoint | None: ...

    def checkpoints_since(self, since_s: float) -> list[StoredCheckpoint]:
        """Signed at or after `since_s`, by size."""
        ...

    def add_cosignature(self, cosignature: StoredCosignature) -> None:
        """Store (or replace: a witness cosigns a checkpoint once) a bank's cosignature."""
        ...

    def cosignatures(self, sizes: Sequence[int]) -> list[StoredCosignature]: ...


class ArchivedEnvelope(NamedTuple):  # a tuple: ingest makes one per message
    """A stored data message as its gateway signed it, with the leaf that logs it."""
    gateway: str
    epoch: int
    seq: int
    received_at_ms: int
    first_ms: int              # the device time of its earliest and latest reading
    last_ms: int
    payload: bytes             # the message exactly as received
    leaf: bytes                # its batch.ingested entry's leaf (at_s: the second it was received)


class WindowEnvelope(NamedTuple):  # a tuple: a pack streams millions of them
    log_index: int             # its batch.ingested entry's position in the log
    gateway: str
    at_s: int                  # that entry's time
    payload: bytes


class EnvelopeArchive(Protocol):
    def keep(self, envelopes: Sequence[ArchivedEnvelope]) -> int:
        """Store the envelopes not archived yet and append their entries, in one transaction
        (a message kept twice, by a resend or a second ingest process, is logged once).
        Returns how many were new."""
        ...

    def begin_keep(self, envelopes: Sequence[ArchivedEnvelope]) -> Callable[[], int]:
        """`keep`, its commit still under way: the returned function waits until the envelopes
        and their entries are durable (or raises why not) and returns how many were new."""
        ...

    def window(self, gateways: Sequence[str], from_ms: int, to_ms: int) -> Iterator[WindowEnvelope]:
        """Envelopes of `gateways` holding a reading timed in [from_ms, to_ms], in log order."""
        ...

    def hold(self, gateways: Sequence[str], until_ms: int) -> None:
        """Keep these gateways' envelopes at least until `until_ms` (a pledge's life + retention)."""
        ...

    def expire(self, now_ms: int, retention_ms: int) -> int:
        """Delete envelopes received over `retention_ms` ago whose gateway's hold has passed."""
        ...


class LogSigner(Protocol):
    """The log's Ed25519 key (checkpoint.NoteSigner)."""
    verifier: Verifier

    def sign(self, text: str) -> Signature: ...


class PackWriter(Protocol):
    """Where a dispute pack's files go (a zip file)."""

    def write(self, name: str, data: bytes) -> None: ...

    def write_chunks(self, name: str, chunks: Iterable[bytes]) -> None:
        """Stream one large file."""
        ...
