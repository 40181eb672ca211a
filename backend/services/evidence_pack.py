"""A dispute pack: its files, and the offline check of everything in it (docs/evidence.md).

    manifest.json         format, loan, window, the log's verifier key, witnesses' keys
    checkpoint.txt        the head: the log's signed checkpoint every proof leads to
    checkpoints.json      earlier checkpoints (with cosignatures), each with its consistency proof to the head
    entries.jsonl         the loan's entries: {"index", "leaf", "proof"} (inclusion proof in the head)
    batches.bin           raw signed envelopes of its lots' gateways in the window, in log order:
                          "<index> <at_s> <length>\\n<envelope bytes>\\n" (their batch.ingested leaves
                          are rebuilt from the envelope, so each checks its signature and its leaf)
    tree.json             one multi-leaf proof of every entry and batch in the head
    database/*.json       what the database's rows say (alerts, price and FX marks), checked against the log
    report.html           the timeline, for people

`verify_pack` needs nothing but the pack (and, optionally, a checkpoint the bank kept and the
log key it trusts); every failure names the item: entry, envelope, checkpoint or row.
"""
from __future__ import annotations

import base64
import hashlib
import json
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from heapq import merge
from typing import IO, Any, NamedTuple, Protocol

import orjson
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from backend.domain import checkpoint as notes
from backend.domain import evidence, tlog
from edge import protocol
from edge.protocol import wire_fast

FORMAT = "pledgewatch-dispute-pack/1"
MANIFEST, HEAD, CHECKPOINTS, ENTRIES, BATCHES, TREE = (
    "manifest.json", "checkpoint.txt", "checkpoints.json", "entries.jsonl", "batches.bin", "tree.json")
ALERTS, PRICES, FX, REPORT = "database/alerts.json", "database/prices.json", "database/fx.json", "report.html"
REPAYMENTS, COLLATERAL, DRAWDOWNS, INTEREST = (
    "database/repayments.json", "database/collateral.json", "database/drawdowns.json", "database/interest.json")
_LISTED = 50  # failures listed per kind; the rest are counted


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def batch_record(index: int, at_s: int, payload: bytes) -> bytes:
    return b"%d %d %d\n" % (index, at_s, len(payload)) + payload + b"\n"


def read_batch_records(stream: IO[bytes]) -> Iterator[tuple[int, int, bytes]]:
    while header := stream.readline():
        index, at_s, length = (int(part) for part in header.split())
        payload = stream.read(length)
        if len(payload) != length or stream.read(1) != b"\n":
            raise ValueError(f"batches.bin: the record of entry {index} is cut short")
        yield index, at_s, payload


def signed_sha256(signed_bytes: bytes) -> str:
    """What a batch.ingested leaf records of an envelope: SHA-256 of what its gateway signed."""
    return hashlib.sha256(protocol.DATA_SIGNING_CONTEXT + signed_bytes).hexdigest()


class PackReader(Protocol):
    def names(self) -> set[str]: ...

    def read(self, name: str) -> bytes: ...

    def open(self, name: str) -> IO[bytes]: ...


@dataclass
class Verdict:
    failures: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, kind: str, message: str) -> None:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        if self._counts[kind] <= _LISTED:
            self.failures.append(message)
        elif self._counts[kind] == _LISTED + 1:
            self.failures.append(f"... and more {kind} failures (counted at the end)")

    def finish(self) -> Verdict:
        for kind, count in self._counts.items():
            if count > _LISTED:
                self.failures.append(f"{count} {kind} failures in all")
        return self


@dataclass
class _Head:
    size: int
    root: bytes


def verify_pack(pack: PackReader, kept_checkpoint: str | None = None, log_vkey: str | None = None) -> Verdict:
    """Check the pack offline; `kept_checkpoint`: a checkpoint note the bank kept; `log_vkey`:
    the log key the bank trusts (else the manifest's is taken, and named in the verdict)."""
    verdict = Verdict()
    try:
        manifest = json.loads(pack.read(MANIFEST))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r} is not {FORMAT}")
        log_key = notes.parse_vkey(log_vkey or manifest["log_vkey"])
        witnesses = [notes.parse_vkey(v) for v in manifest.get("witness_vkeys", [])]
    except (KeyError, ValueError, notes.NoteError) as exc:
        verdict.fail("manifest", f"manifest.json: {exc}")
        return verdict.finish()
    if log_vkey and log_vkey != manifest["log_vkey"]:
        verdict.fail("manifest", "manifest.json: the pack names another log key than the one you trust")
    head = _check_head(pack, log_key, witnesses, verdict)
    if head is None:
        return verdict.finish()
    proofs = _check_checkpoints(pack, head, log_key, witnesses, verdict)
    if kept_checkpoint is not None:
        _check_kept(kept_checkpoint, head, proofs, log_key, verdict)
    entries = _check_entries(pack, head, verdict)
    indices, hashes = _check_batches(pack, entries, verdict)
    _check_tree(pack, head, entries, indices, hashes, verdict)
    _cross_check(pack, entries, verdict)
    return verdict.finish()


def _check_head(pack: PackReader, log_key: notes.Verifier, witnesses: list[notes.Verifier],
                verdict: Verdict) -> _Head | None:
    try:
        opened = notes.open_checkpoint(pack.read(HEAD), log_key, witnesses)
    except (KeyError, notes.NoteError) as exc:
        verdict.fail("checkpoint", f"checkpoint.txt: {exc}")
        return None
    if opened.checkpoint.origin != log_key.name:
        verdict.fail("checkpoint", f"checkpoint.txt: origin {opened.checkpoint.origin!r} is not the log {log_key.name}")
    verdict.checked["head_size"] = opened.checkpoint.size
    verdict.checked["head_cosignatures"] = len(opened.cosignatures)
    return _Head(opened.checkpoint.size, opened.checkpoint.root_hash)


def _check_checkpoints(pack: PackReader, head: _Head, log_key: notes.Verifier,
                       witnesses: list[notes.Verifier], verdict: Verdict) -> dict[int, tuple[bytes, list[bytes]]]:
    """Each earlier checkpoint must verify and be consistent with the head; returns size ->
    (root, consistency proof to the head) of those that are."""
    proofs: dict[int, tuple[bytes, list[bytes]]] = {}
    for item in json.loads(pack.read(CHECKPOINTS)) if CHECKPOINTS in pack.names() else []:
        label = f"checkpoint of size {item.get('size')}"
        try:
            opened = notes.open_checkpoint(item["note"], log_key, witnesses)
            size, root = opened.checkpoint.size, opened.checkpoint.root_hash
            proof = [base64.b64decode(p) for p in item["consistency"]]
            if size > head.size:
                raise tlog.ProofError(f"it is larger than the head ({head.size}): entries were dropped since")
            tlog.verify_consistency(size, head.size, root, head.root, proof)
        except (KeyError, ValueError, notes.NoteError, tlog.ProofError) as exc:
            verdict.fail("checkpoint", f"{label}: {exc}")
            continue
        proofs[size] = (root, proof)
        verdict.checked["checkpoints"] = verdict.checked.get("checkpoints", 0) + 1
        verdict.checked["cosignatures"] = verdict.checked.get("cosignatures", 0) + len(opened.cosignatures)
    return proofs


def _check_kept(note: str, head: _Head, proofs: dict[int, tuple[bytes, list[bytes]]],
                log_key: notes.Verifier, verdict: Verdict) -> None:
    try:
        kept = notes.open_checkpoint(note, log_key).checkpoint
    except notes.NoteError as exc:
        verdict.fail("kept", f"your checkpoint: {exc}")
        return
    label = f"your checkpoint (size {kept.size}, root {b64(kept.root_hash)})"
    if kept.size > head.size:
        verdict.fail("kept", f"{label}: the pack's log holds only {head.size} entries: entries were dropped")
        return
    if kept.size == head.size:
        if kept.root_hash != head.root:
            verdict.fail("kept", f"{label}: the pack's checkpoint of the same size has another root: the log forked")
        return
    if kept.size not in proofs:
        verdict.fail("kept", f"{label}: the pack holds no consistency proof from size {kept.size}; the log's record "
                             f"of that checkpoint is missing (ask GET /api/v1/log/consistency)")
        return
    try:
        tlog.verify_consistency(kept.size, head.size, kept.root_hash, head.root, proofs[kept.size][1])
    except tlog.ProofError as exc:
        verdict.fail("kept", f"{label}: not consistent with the pack's checkpoint of size {head.size}: {exc}")
        return
    verdict.checked["kept_checkpoint_size"] = kept.size


@dataclass(frozen=True)
class _Proven:
    index: int
    leaf_hash: bytes
    entry: evidence.Entry | None        # None: the entry failed its checks


def _label(entry: evidence.Entry) -> str:
    named = ", ".join(f"{name}={value}" for name, value in sorted(entry.subjects.items()))
    return f"{entry.kind} [{named}] at {entry.at_s}"


def _check_entries(pack: PackReader, head: _Head, verdict: Verdict) -> list[_Proven]:
    proven: list[_Proven] = []
    for line in pack.read(ENTRIES).splitlines() if ENTRIES in pack.names() else []:
        item = json.loads(line)
        index, leaf = item["index"], item["leaf"].encode()
        hashed = tlog.leaf_hash(leaf)
        try:
            entry = evidence.parse_leaf(leaf)
        except evidence.EvidenceError as exc:
            verdict.fail("entry", f"entry {index}: {exc}")
            proven.append(_Proven(index, hashed, None))
            continue
        try:
            tlog.verify_inclusion(index, head.size, hashed, [base64.b64decode(p) for p in item["proof"]], head.root)
        except (ValueError, tlog.ProofError) as exc:
            verdict.fail("entry", f"entry {index} ({_label(entry)}): not in the log the checkpoint signed: {exc}")
            proven.append(_Proven(index, hashed, None))
            continue
        proven.append(_Proven(index, hashed, entry))
    verdict.checked["entries"] = sum(1 for p in proven if p.entry is not None)
    return proven


def _gateway_keys(entries: Sequence[_Proven]) -> dict[tuple[str, str], VerifyKey]:
    keys = {}
    for proven in entries:
        entry = proven.entry
        if entry is not None and entry.kind in ("gateway_key.registered", "gateway_key.rotated"):
            keys[(entry.subjects["gateway"], entry.payload["key_id"])] = VerifyKey(
                base64.b64decode(entry.payload["public_key"]))
    return keys


def _check_batches(pack: PackReader, entries: Sequence[_Proven],
                   verdict: Verdict) -> tuple[array[int], list[bytes]]:
    """Each envelope: signed by a key the log registered for its gateway, its leaf rebuilt.
    Returns the batches' indices and leaf hashes, in log order."""
    keys = _gateway_keys(entries)
    indices: array[int] = array("q")
    hashes: list[bytes] = []
    readings = previous = 0
    if BATCHES not in pack.names():
        return indices, hashes
    with pack.open(BATCHES) as stream:
        try:
            for index, at_s, payload in read_batch_records(stream):
                if index <= previous and indices:
                    verdict.fail("envelope", f"batches.bin: entry {index} is out of log order")
                previous = index
                leaf, count = _batch_leaf(index, at_s, payload, keys, verdict)
                readings += count
                indices.append(index)
                hashes.append(tlog.leaf_hash(leaf))
        except ValueError as exc:
            verdict.fail("envelope", str(exc))
    verdict.checked["envelopes"], verdict.checked["readings"] = len(indices), readings
    return indices, hashes


def _batch_leaf(index: int, at_s: int, payload: bytes, keys: dict[tuple[str, str], VerifyKey],
                verdict: Verdict) -> tuple[bytes, int]:
    """The batch.ingested leaf the envelope was logged under (the raw bytes when it cannot be
    read: its leaf then cannot match)."""
    try:
        gateway = orjson.loads(payload)["gateway"]
        topic = protocol.topic(gateway, "data")
        envelope = wire_fast.decode_plain(payload, topic) or protocol.decode(payload, topic)
    except (orjson.JSONDecodeError, KeyError, TypeError, protocol.DecodeError) as exc:
        verdict.fail("envelope", f"envelope of entry {index}: not a data message: {exc}")
        return payload, 0
    name = f"envelope {evidence.batch_subject(envelope.gateway, envelope.epoch, envelope.seq)} (entry {index})"
    signature = envelope.signature
    signed = envelope.signed_bytes
    if signature is None:
        verdict.fail("envelope", f"{name}: not signed by its gateway")
    elif (key := keys.get((envelope.gateway, signature.key_id))) is None:
        verdict.fail("envelope", f"{name}: signed by key {signature.key_id}, which the log never registered "
                                 f"for {envelope.gateway}")
    elif not _verifies(key, signature.value, signed):
        reference = protocol.decode(payload, topic).signed_bytes  # the fast path's bytes may differ
        if _verifies(key, signature.value, reference):
            signed = reference
        else:
            verdict.fail("envelope", f"{name}: the gateway's signature does not verify: its content was changed")
    leaf = evidence.batch_ingested(envelope.gateway, envelope.epoch, envelope.seq,
                                   signed_sha256=signed_sha256(signed), readings=len(envelope.readings),
                                   key_id=signature.key_id if signature else None, received_s=at_s).leaf()
    return leaf, len(envelope.readings)


def _verifies(key: VerifyKey, signature: bytes, signed: bytes) -> bool:
    try:
        key.verify(protocol.DATA_SIGNING_CONTEXT + signed, signature)
    except BadSignatureError:
        return False
    return True


def _check_tree(pack: PackReader, head: _Head, entries: Sequence[_Proven], batch_indices: array[int],
                batch_hashes: list[bytes], verdict: Verdict) -> None:
    indices: array[int] = array("q")
    hashes: list[bytes] = []
    for index, hashed in merge(sorted((p.index, p.leaf_hash) for p in entries), zip(batch_indices, batch_hashes)):
        indices.append(index)
        hashes.append(hashed)
    try:
        tree = json.loads(pack.read(TREE))
        proof = [base64.b64decode(p) for p in tree["proof"]]
        root = tlog.root_from_multi_proof(head.size, indices, hashes, proof)
    except (KeyError, ValueError, tlog.ProofError) as exc:
        verdict.fail("tree", f"tree.json: {exc}")
        return
    if root != head.root:
        verdict.fail("tree", f"tree.json: the pack's {len(indices)} entries and envelopes do not lead to the root of "
                             f"the checkpoint of size {head.size}: one of them is not what was logged")


# --- what the database says, against what the log says ------------------------------------------

def _cross_check(pack: PackReader, entries: Sequence[_Proven], verdict: Verdict) -> None:
    logged = [p.entry for p in entries if p.entry is not None]
    names = pack.names()
    if ALERTS in names:
        _check_alerts(json.loads(pack.read(ALERTS)), logged, verdict)
    if PRICES in names:
        _check_marks(json.loads(pack.read(PRICES)), logged, verdict, "price_mark.used", "price")
    if FX in names:
        _check_marks(json.loads(pack.read(FX)), logged, verdict, "fx_rate.used", "rate")
    for name, expect in ((REPAYMENTS, _repayment_logged), (COLLATERAL, _request_logged),
                         (DRAWDOWNS, _drawdown_logged), (INTEREST, _interest_logged)):
        if name in names:
            _check_decisions(name, json.loads(pack.read(name)), expect, logged, verdict)


def _check_alerts(rows: list[dict[str, Any]], logged: Sequence[evidence.Entry], verdict: Verdict) -> None:
    by_alert: dict[tuple[str, str], evidence.Entry] = {}
    for entry in logged:
        if entry.kind.startswith("alert."):
            by_alert.setdefault((entry.subjects["alert"], entry.kind), entry)
    for row in rows:
        name = f"alert {row['id']} ({row['type']})"
        opened = by_alert.get((row["id"], "alert.opened"))
        if opened is None:
            verdict.fail("database", f"{name}: the database holds it, the log has no alert.opened entry for it")
        elif (opened.payload["type"], opened.payload["severity"]) != (row["type"], row["severity"]):
            verdict.fail("database", f"{name}: the database says {row['type']}/{row['severity']}, the log "
                                     f"{opened.payload['type']}/{opened.payload['severity']}")
        for change, by in (("acknowledged", row.get("acknowledged_by")), ("resolved", row.get("resolved_by"))):
            if row.get(f"{change}_at_s") is None:
                continue
            entry = by_alert.get((row["id"], f"alert.{change}"))
            if entry is None:
                verdict.fail("database", f"{name}: the database says {change}, the log has no alert.{change} entry")
            elif entry.payload["by"] != (by or "system"):
                verdict.fail("database", f"{name}: the database says {change} by {by or 'system'}, "
                                         f"the log says by {entry.payload['by']}")
    verdict.checked["alerts"] = len(rows)


def _check_marks(rows: list[dict[str, Any]], logged: Sequence[evidence.Entry], verdict: Verdict,
                 kind: str, value_field: str) -> None:
    def key(fields: dict[str, Any]) -> tuple[str, ...]:
        if kind == "fx_rate.used":
            return (fields["base"], fields["quote"], str(fields["observed_at_s"]))
        return (fields["commodity"], str(fields["observed_at_s"]), fields["source"])

    marks = {}
    for entry in logged:
        if entry.kind == kind:
            fields = dict(entry.payload)
            if kind == "price_mark.used":
                fields["commodity"] = entry.subjects["commodity"]
            marks[key(fields)] = fields
    for row in rows:
        name = f"{'FX rate' if kind == 'fx_rate.used' else 'price mark'} {'/'.join(key(row))}"
        mark = marks.get(key(row))
        if mark is None:
            verdict.fail("database", f"{name}: the database holds it, the log has no {kind} entry for it")
        elif Decimal(mark[value_field]) != Decimal(row[value_field]):
            verdict.fail("database", f"{name}: the database says {row[value_field]}, the log says {mark[value_field]}")
    verdict.checked[kind] = len(rows)


# --- money rows: each decision the database holds has its entry, with the same facts, and back ---

class _Expected(NamedTuple):
    label: str                          # how a failure names the row
    kind: str                           # the entry that logs it
    key: str                            # its `reference`, `request` or `to_s`
    facts: dict[str, Any]               # payload fields (or "lot": the subject) it must carry


def _repayment_logged(row: dict[str, Any]) -> _Expected:
    kind, by = {"pending": ("repayment.entered", row["entered_by"]), "confirmed": ("repayment", row["decided_by"]),
                "rejected": ("repayment.rejected", row["decided_by"])}[row["state"]]
    return _Expected(f"repayment {row['id']} ({row['state']})", kind, row["id"], {"amount": row["amount"], "by": by})


def _request_logged(row: dict[str, Any]) -> _Expected:
    steps = {"pending": "requested", "approved": "", "rejected": "rejected"}
    kind = row["kind"] + (f".{steps[row['state']]}" if steps[row["state"]] else "")
    facts = {"lot": row["pledge_lot"], "by": row["requested_by"] if row["state"] == "pending" else row["decided_by"]}
    if row["kind"] == "substitution":
        facts["release_lot"] = row["release_lot"]
    return _Expected(f"{row['kind']} request {row['id']} ({row['state']})", kind, row["id"], facts)


def _drawdown_logged(row: dict[str, Any]) -> _Expected:
    return _Expected(f"drawdown {row['id']}", "drawdown", row["id"], {"amount": row["amount"], "by": row["by"]})


def _interest_logged(row: dict[str, Any]) -> _Expected:
    return _Expected(f"interest to {int(row['to_s'])}", "interest.posted", str(int(row["to_s"])),
                     {"amount": row["amount"], "days": row["days"]})


def _decision_key(entry: evidence.Entry) -> str | None:
    if entry.kind == "interest.posted":
        return str(entry.payload["to_s"])
    return entry.payload.get("reference") or entry.payload.get("request")


def _same(a: Any, b: Any) -> bool:
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except ArithmeticError:
        return str(a) == str(b)


def _check_decisions(name: str, rows: list[dict[str, Any]], expect, logged: Sequence[evidence.Entry],
                     verdict: Verdict) -> None:
    """The pack holds all of the loan's rows of `name` and all their entries, whenever made."""
    wanted = [expect(row) for row in rows]
    kinds = {item.kind for item in wanted} | set(_KINDS_OF[name])
    by_key = {(e.kind, _decision_key(e)): e for e in logged if e.kind in kinds}
    for item in wanted:
        entry = by_key.get((item.kind, item.key))
        if entry is None:
            verdict.fail("database", f"{item.label}: the database holds it, the log has no {item.kind} entry for it")
            continue
        for field_name, value in item.facts.items():
            logged_value = entry.subjects.get(field_name) if field_name == "lot" else entry.payload.get(field_name)
            if not _same(value, logged_value):
                verdict.fail("database", f"{item.label}: the database says {field_name} {value}, "
                                         f"the log says {logged_value}")
    keys = {item.key for item in wanted}
    for (kind, key), entry in by_key.items():
        if kind in _KINDS_OF[name] and key not in keys:
            verdict.fail("database", f"entry {kind} {key} ({_label(entry)}): the log holds it, {name} has no row")
    verdict.checked[name] = len(rows)


# Entries that stand for a row: one of these whose row is gone is a deleted decision.
_KINDS_OF = {REPAYMENTS: ("repayment", "repayment.entered", "repayment.rejected"),
             COLLATERAL: ("pledge.requested", "pledge.rejected", "substitution.requested", "substitution",
                          "substitution.rejected"),
             DRAWDOWNS: ("drawdown",), INTEREST: ("interest.posted",)}
