"""What goes into the evidence log: one entry per decision or fact, as canonical bytes.

An entry is (kind, at_s, subjects, payload). Its leaf bytes are one JSON object

    {"at_s":1700000000,"kind":"alert.acknowledged","payload":{"by":"ops@bank"},"subjects":{"alert":"A1"},"v":1}

written the one way RFC 8785 (JSON Canonicalization Scheme) would write it: keys sorted, no
whitespace, UTF-8, strings escaped as JSON.stringify does. We keep to the part of JSON where
Python's encoder and JCS agree byte for byte: keys are ASCII, integers lie within ±(2**53 − 1)
(I-JSON), floats are refused (a float is not evidence of a price), and a Decimal is written as
a string in plain notation without trailing zeros ("1.50" and "1.5" are the same amount, so the
same bytes). Two equal entries therefore have equal leaves, and any change to a field changes
the leaf and its hash.

`KINDS` names every kind the log accepts, the subjects it must name and the payload fields it
must (and may) carry; `by` is always who acted, a person or "system".
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .alerts import Alert
from .errors import DomainError
from .registry import Registry

LEAF_VERSION = 1
MAX_SAFE_INTEGER = 2**53 - 1
SUBJECTS = frozenset({"loan", "lot", "lender", "borrower", "warehouse", "gateway", "commodity",
                      "alert", "release", "batch"})
_KEY = re.compile(r"[a-z][a-z0-9_]*")
_PLAIN = re.compile(r"[A-Za-z0-9._-]*")  # a string JSON writes as it is, between quotes


class EvidenceError(DomainError):
    """An entry is not one the log can hold: unknown kind, missing field, or a value with no
    canonical form (a float, a NaN, a huge integer, a non-ASCII key, ...)."""


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    subjects: tuple[str, ...]            # must be named; other names from SUBJECTS may be added
    required: tuple[str, ...]            # payload fields that must be present
    optional: tuple[str, ...] = ()       # payload fields that may be present


KINDS: Mapping[str, Kind] = {kind.name: kind for kind in (
    Kind("pledge", ("loan", "lot"), ("by",), ("commodity", "quantity", "unit", "items", "request", "requested_by")),
    Kind("pledge.requested", ("loan", "lot"), ("by", "request")),
    Kind("pledge.refused", ("loan", "lot"), ("by", "reason"), ("request",)),
    Kind("pledge.rejected", ("loan", "lot"), ("by", "request", "reason"), ("requested_by",)),
    Kind("substitution.requested", ("loan", "lot"), ("by", "request", "release_lot")),
    Kind("substitution", ("loan", "lot"), ("by", "request", "release_lot"), ("requested_by",)),
    Kind("substitution.rejected", ("loan", "lot"), ("by", "request", "release_lot", "reason"), ("requested_by",)),
    Kind("substitution.refused", ("loan", "lot"), ("by", "release_lot", "reason"), ("request",)),
    Kind("release.requested", ("loan", "lot", "release"), ("by", "items", "repayment"), ("epcs",)),
    Kind("release.approved", ("loan", "lot", "release"), ("by", "items", "max_items", "repayment")),
    Kind("release.refused", ("loan", "lot", "release"), ("by", "items", "max_items", "reason")),
    Kind("delivery_order.issued", ("loan", "lot", "release"), ("by", "epcs"), ("order", "valid_until_s")),
    Kind("delivery_order.acknowledged", ("loan", "lot", "release"), ("by",), ("order",)),
    Kind("delivery_order.fulfilled", ("loan", "lot", "release"), ("by", "epcs"), ("order",)),
    Kind("delivery_order.expired", ("loan", "lot", "release"), ("by", "left", "remaining"), ("order",)),
    Kind("repayment.entered", ("loan",), ("by", "amount", "currency", "reference")),
    Kind("repayment", ("loan",), ("by", "amount", "currency"), ("reference", "entered_by", "outstanding")),
    Kind("repayment.rejected", ("loan",), ("by", "amount", "currency", "reference", "reason"), ("entered_by",)),
    Kind("drawdown", ("loan",), ("by", "amount", "currency", "reference", "outstanding")),
    Kind("interest.posted", ("loan",), ("by", "amount", "currency", "days", "from_s", "to_s", "rate", "day_count",
                                        "outstanding")),
    Kind("loan.closed", ("loan",), ("by", "released_lots")),
    Kind("loan.created", ("loan", "borrower"), ("by", "lender", "currency", "outstanding", "haircut", "target_ltv",
                                                "thresholds", "cure_period_s"), ("interest",)),
    Kind("lot.created", ("lot", "warehouse", "commodity"), ("by", "items", "quantity", "weight_kg", "epcs_sha256"),
         ("tare_kg",)),
    Kind("inspection.recorded", ("lot",), ("by", "inspection", "items", "quantity"), ("temperature_c", "note")),
    Kind("price_mark.used", ("commodity",), ("price", "currency", "unit", "source", "observed_at_s")),
    Kind("fx_rate.used", (), ("base", "quote", "rate", "source", "observed_at_s")),
    Kind("alert.opened", ("alert",), ("type", "severity"), ("details",)),
    Kind("alert.acknowledged", ("alert",), ("by",), ("comment",)),
    Kind("alert.resolved", ("alert",), ("by",), ("comment",)),
    Kind("alert.commented", ("alert",), ("by", "comment")),
    Kind("gateway_key.registered", ("gateway",), ("by", "key_id", "public_key")),
    Kind("gateway_key.rotated", ("gateway",), ("by", "key_id", "public_key", "previous_key_id")),
    Kind("book.changed", (), ("by", "book_sha256"), ("previous_sha256", "summary")),
    Kind("batch.ingested", ("gateway", "batch"), ("envelope_sha256", "readings"), ("key_id", "received_at_s")),
)}


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    at_s: int                            # when it happened (unix seconds), by the backend's clock
    subjects: Mapping[str, str]          # ids of what it concerns: {"loan": "L1", "lot": "LOT-7"}
    payload: Mapping[str, Any]

    def __post_init__(self) -> None:
        spec = KINDS.get(self.kind)
        if spec is None:
            raise EvidenceError(f"unknown entry kind {self.kind!r}")
        if isinstance(self.at_s, bool) or not isinstance(self.at_s, int) or not 0 <= self.at_s <= MAX_SAFE_INTEGER:
            raise EvidenceError(f"{self.kind}: at_s must be whole unix seconds, not {self.at_s!r}")
        _check_subjects(spec, self.subjects)
        _check_payload(spec, self.payload)
        _canonical(dict(self.payload), "payload")

    def leaf(self) -> bytes:
        """The canonical bytes the log hashes (tlog.leaf_hash of these is the Merkle leaf)."""
        document = {"v": LEAF_VERSION, "kind": self.kind, "at_s": self.at_s,
                    "subjects": dict(self.subjects), "payload": _canonical(dict(self.payload), "payload")}
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")


def _check_subjects(spec: Kind, subjects: Mapping[str, str]) -> None:
    missing = [name for name in spec.subjects if name not in subjects]
    if missing:
        raise EvidenceError(f"{spec.name}: missing subject {', '.join(missing)}")
    for name, value in subjects.items():
        if name not in SUBJECTS:
            raise EvidenceError(f"{spec.name}: unknown subject {name!r}")
        if not isinstance(value, str) or not value:
            raise EvidenceError(f"{spec.name}: subject {name} must be a non-empty id, not {value!r}")


def _check_payload(spec: Kind, payload: Mapping[str, Any]) -> None:
    missing = [name for name in spec.required if name not in payload]
    if missing:
        raise EvidenceError(f"{spec.name}: missing field {', '.join(missing)}")
    unknown = sorted(set(payload) - set(spec.required) - set(spec.optional))
    if unknown:
        raise EvidenceError(f"{spec.name}: unknown field {', '.join(unknown)}")


def _canonical(value: Any, where: str) -> Any:
    """The value as JSON can hold it canonically; EvidenceError names the field when it cannot."""
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise EvidenceError(f"{where}: a lone surrogate is not UTF-8")
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise EvidenceError(f"{where}: integer {value} is beyond ±2**53−1; pass a Decimal")
        return value
    if isinstance(value, Decimal):
        return decimal_text(value, where)
    if isinstance(value, float):
        raise EvidenceError(f"{where}: floats are refused, pass a Decimal or an integer")
    if isinstance(value, (list, tuple)):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str) or not _KEY.fullmatch(key):
                raise EvidenceError(f"{where}: key {key!r} is not lower-case ASCII")
        return {key: _canonical(item, f"{where}.{key}") for key, item in value.items()}
    raise EvidenceError(f"{where}: a {type(value).__name__} has no canonical form")


def decimal_text(value: Decimal, where: str = "value") -> str:
    """Plain notation, no exponent, no trailing zeros, no context rounding: 1.50 -> "1.5",
    1E+2 -> "100", -0 -> "0"."""
    if not value.is_finite():
        raise EvidenceError(f"{where}: {value} is not a number")
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = value.as_tuple()
    assert isinstance(exponent, int)     # finite
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    while exponent < 0 and digits.endswith("0"):
        digits, exponent = digits[:-1], exponent + 1
    if exponent >= 0:
        text = digits + "0" * exponent
    else:
        digits = digits.rjust(1 - exponent, "0")
        text = f"{digits[:exponent]}.{digits[exponent:]}"
    return ("-" if sign else "") + text


def parse_leaf(data: bytes) -> Entry:
    """The entry in a leaf read back from a pack; refused unless the bytes are exactly the
    canonical encoding (so the leaf a verifier hashes is the entry it shows)."""
    try:
        document = json.loads(data.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EvidenceError(f"leaf is not JSON: {exc}") from exc
    if not isinstance(document, dict) or set(document) != {"v", "kind", "at_s", "subjects", "payload"}:
        raise EvidenceError("leaf is not an entry object")
    if document["v"] != LEAF_VERSION:
        raise EvidenceError(f"leaf version {document['v']!r} is not {LEAF_VERSION}")
    if not isinstance(document["kind"], str) or not isinstance(document["subjects"], dict) \
            or not isinstance(document["payload"], dict):
        raise EvidenceError("leaf kind must be a string, its subjects and payload objects")
    entry = Entry(document["kind"], document["at_s"], document["subjects"], document["payload"])
    if entry.leaf() != data:
        raise EvidenceError("leaf is not in canonical form")
    return entry


def _no_constant(name: str) -> None:
    raise EvidenceError(f"leaf holds {name}")


# --- the entries the backend writes, built one way ---------------------------------------------

def batch_subject(gateway: str, epoch: int, seq: int) -> str:
    """A batch's id: its idempotency key, "<gateway>/<boot epoch>/<seq>"."""
    return f"{gateway}/{epoch}/{seq}"


def batch_ingested(gateway: str, epoch: int, seq: int, *, signed_sha256: str, readings: int,
                   key_id: str | None, received_s: int) -> Entry:
    """A stored data message: the SHA-256 (hex) of what its gateway signed (signing context
    and canonical bytes), so the archived envelope, its signature and this leaf check each other."""
    payload: dict[str, Any] = {"envelope_sha256": signed_sha256, "readings": readings}
    if key_id is not None:
        payload["key_id"] = key_id
    return Entry("batch.ingested", received_s, {"gateway": gateway, "batch": batch_subject(gateway, epoch, seq)},
                 payload)


def batch_leaf(gateway: str, epoch: int, seq: int, *, signed_sha256: str, readings: int,
               key_id: str | None, received_s: int) -> bytes:
    """batch_ingested(...).leaf(), written out directly: ingest writes one per message, and its
    fields are already checked (the gateway an id of [A-Za-z0-9._-], nothing JSON escapes; the
    rest ints and hex). tests/unit/domain/test_evidence_entries.py holds the two equal."""
    if key_id is None:
        key = ""
    elif _PLAIN.fullmatch(key_id):  # a key fingerprint (hex): nothing to escape
        key = f',"key_id":"{key_id}"'
    else:
        key = f',"key_id":{json.dumps(key_id, ensure_ascii=False)}'
    return (f'{{"at_s":{received_s},"kind":"batch.ingested","payload":{{"envelope_sha256":"{signed_sha256}"{key},'
            f'"readings":{readings}}},"subjects":{{"batch":"{gateway}/{epoch}/{seq}","gateway":"{gateway}"}},'
            f'"v":{LEAF_VERSION}}}').encode()


def decimals(value: Any) -> Any:
    """`value` with every float replaced by the Decimal of its shortest repr (alert details
    hold measurements as floats; the leaf records the number the backend printed)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: decimals(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [decimals(item) for item in value]
    return value


def alert_subjects(alert_id: str, loan: str | None, lot: str | None, lender: str | None,
                   gateway: str | None) -> dict[str, str]:
    named = {"alert": alert_id, "loan": loan, "lot": lot, "lender": lender, "gateway": gateway}
    return {name: value for name, value in named.items() if value}


@dataclass(frozen=True, slots=True)
class Scope:
    """What a loan (or a lender's loans) is made of: an entry naming any of these concerns it."""
    loans: frozenset[str] = frozenset()
    lots: frozenset[str] = frozenset()
    gateways: frozenset[str] = frozenset()
    commodities: frozenset[str] = frozenset()
    lenders: frozenset[str] = frozenset()
    currencies: frozenset[str] = frozenset()     # an FX rate used with one of these concerns it

    def subjects(self) -> list[tuple[str, str]]:
        """(subject name, id) pairs an entry may name to concern this scope."""
        named = (("loan", self.loans), ("lot", self.lots), ("gateway", self.gateways),
                 ("commodity", self.commodities), ("lender", self.lenders))
        return sorted((name, value) for name, values in named for value in values)

    def covers(self, entry: Entry) -> bool:
        """The most specific subject the entry names decides: its lender, else its loan, else
        its lot; only an entry naming none of them is judged by its gateway or commodity (a
        gateway may serve two lenders' lots)."""
        if entry.kind == "fx_rate.used":
            return bool({entry.payload.get("base"), entry.payload.get("quote")} & self.currencies)
        subjects = entry.subjects
        for name, ours in (("lender", self.lenders), ("loan", self.loans), ("lot", self.lots)):
            if name in subjects:
                return subjects[name] in ours
        return subjects.get("gateway") in self.gateways or subjects.get("commodity") in self.commodities

    def __or__(self, other: Scope) -> Scope:
        return Scope(self.loans | other.loans, self.lots | other.lots, self.gateways | other.gateways,
                     self.commodities | other.commodities, self.lenders | other.lenders,
                     self.currencies | other.currencies)


def loan_scope(registry: Registry, loan_id: str) -> Scope:
    """The loan, its lots, their gateways and commodities, its lender and currency."""
    loan = registry.loans[loan_id]
    lots = [registry.lots[lot_id] for lot_id in loan.lot_ids if lot_id in registry.lots]
    gateways = {registry.warehouses[lot.warehouse_id].gateway_id for lot in lots
                if lot.warehouse_id in registry.warehouses}
    return Scope(loans=frozenset({loan.id}), lots=frozenset(lot.id for lot in lots), gateways=frozenset(gateways),
                 commodities=frozenset(lot.commodity_id for lot in lots), lenders=frozenset({loan.lender_id}),
                 currencies=frozenset({loan.currency}))


def lender_scope(registry: Registry, lender_id: str) -> Scope:
    """Everything the lender's loans are made of (an entry about one of them concerns it)."""
    scope = Scope(lenders=frozenset({lender_id}))
    for loan in registry.loans.values():
        if loan.lender_id == lender_id:
            scope |= loan_scope(registry, loan.id)
    return scope


def alert_opened(alert: Alert) -> Entry:
    """Details JSON cannot hold canonically (a NaN, an odd key) are logged as their JSON text:
    an alert is never refused a log entry."""
    subjects = alert_subjects(alert.id, alert.loan, alert.lot, alert.lender, alert.gateway)
    payload = {"type": alert.type, "severity": alert.severity, "details": decimals(dict(alert.details))}
    try:
        return Entry("alert.opened", alert.opened_at_s, subjects, payload)
    except EvidenceError:
        details = json.dumps(dict(alert.details), sort_keys=True, default=str)
        return Entry("alert.opened", alert.opened_at_s, subjects, {**payload, "details": details})


def alert_worked(change: str, subjects: Mapping[str, str], by: str, at_s: int, comment: str | None = None) -> Entry:
    """An alert acknowledged or resolved (`change`), by a person or "system"."""
    payload: dict[str, Any] = {"by": by}
    if comment:
        payload["comment"] = comment
    return Entry(f"alert.{change}", at_s, subjects, payload)
