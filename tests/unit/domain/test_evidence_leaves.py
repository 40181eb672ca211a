"""Log entries encode to one canonical byte string: equal entries, equal bytes; any change, new bytes."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.evidence import KINDS, SUBJECTS, Entry, EvidenceError, decimal_text, parse_leaf


def repayment(**changes):
    fields = {"kind": "repayment", "at_s": 1_700_000_000, "subjects": {"loan": "L1"},
              "payload": {"by": "ops@lender", "amount": Decimal("2500.00"), "currency": "USD"}}
    return Entry(**{**fields, **changes})


def test_the_leaf_is_sorted_compact_json():
    assert repayment().leaf() == (b'{"at_s":1700000000,"kind":"repayment","payload":{"amount":"2500","by":"ops@lender",'
                                  b'"currency":"USD"},"subjects":{"loan":"L1"},"v":1}')


def test_equal_entries_have_equal_bytes_whatever_the_order_and_spelling():
    one = Entry("price_mark.used", 1_700_000_000, {"commodity": "maize", "loan": "L1"},
                {"price": Decimal("231.50"), "currency": "USD", "unit": "t", "source": "safex",
                 "observed_at_s": 1_699_999_000})
    other = Entry("price_mark.used", 1_700_000_000, {"loan": "L1", "commodity": "maize"},
                  {"observed_at_s": 1_699_999_000, "source": "safex", "unit": "t", "currency": "USD",
                   "price": Decimal("231.5000")})
    assert one.leaf() == other.leaf()
    assert parse_leaf(one.leaf()).leaf() == one.leaf()


@pytest.mark.parametrize("change", [
    {"at_s": 1_700_000_001},
    {"subjects": {"loan": "L2"}},
    {"payload": {"by": "ops@lender", "amount": Decimal("2500.01"), "currency": "USD"}},
    {"payload": {"by": "ops@lender", "amount": Decimal("2500"), "currency": "EUR"}},
    {"payload": {"by": "someone else", "amount": Decimal("2500"), "currency": "USD"}},
    {"payload": {"by": "ops@lender", "amount": Decimal("2500"), "currency": "USD", "reference": "r1"}},
])
def test_a_changed_field_changes_the_bytes(change):
    assert repayment(**change).leaf() != repayment().leaf()


def test_a_changed_kind_changes_the_bytes():
    acknowledged = Entry("alert.acknowledged", 1, {"alert": "A1"}, {"by": "ana"})
    resolved = Entry("alert.resolved", 1, {"alert": "A1"}, {"by": "ana"})
    assert acknowledged.leaf() != resolved.leaf()


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("1.50"), "1.5"), (Decimal("1E+2"), "100"), (Decimal("100"), "100"), (Decimal("-0"), "0"),
    (Decimal("0E-7"), "0"), (Decimal("0.0001"), "0.0001"), (Decimal("1E-7"), "0.0000001"),
    (Decimal("-12.340"), "-12.34"), (Decimal("12345678901234567890.123456789012345678901"),
                                     "12345678901234567890.123456789012345678901"),   # no context rounding
])
def test_decimals_are_written_plainly(value, text):
    assert decimal_text(value) == text


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_a_decimal_reads_back_as_the_same_number(value):
    assert Decimal(decimal_text(value)) == value


def test_strings_are_escaped_as_jcs_does_and_kept_as_utf8():
    entry = Entry("alert.resolved", 1, {"alert": "A1"}, {"by": "Zoë", "comment": 'a "quote"\n\t\x01 €'})
    assert '"comment":"a \\"quote\\"\\n\\t\\u0001 €"'.encode() in entry.leaf()
    assert "Zoë".encode() in entry.leaf()


@pytest.mark.parametrize(("payload", "message"), [
    ({"by": "a", "amount": 2500.0, "currency": "USD"}, "floats are refused"),
    ({"by": "a", "amount": Decimal("NaN"), "currency": "USD"}, "not a number"),
    ({"by": "a", "amount": 2**53, "currency": "USD"}, "beyond"),
    ({"by": "a", "amount": b"2500", "currency": "USD"}, "no canonical form"),
    ({"by": "a", "currency": "USD"}, "missing field amount"),
    ({"by": "a", "amount": 1, "currency": "USD", "note": "x"}, "unknown field note"),
    ({"by": "\udc00", "amount": 1, "currency": "USD"}, "surrogate"),
    ({"by": "a", "amount": 1, "currency": "USD", "reference": {"Ref": 1}}, "lower-case ASCII"),
    ({"by": "a", "amount": 1, "currency": "USD", "reference": [1, 2.5]}, r"reference\[1\]: floats"),
])
def test_values_without_a_canonical_form_are_refused(payload, message):
    with pytest.raises(EvidenceError, match=message):
        repayment(payload=payload)


@pytest.mark.parametrize(("changes", "message"), [
    ({"kind": "coffee.break"}, "unknown entry kind"),
    ({"subjects": {}}, "missing subject loan"),
    ({"subjects": {"loan": "L1", "planet": "Mars"}}, "unknown subject"),
    ({"subjects": {"loan": ""}}, "non-empty id"),
    ({"at_s": 1.5}, "whole unix seconds"),
    ({"at_s": -1}, "whole unix seconds"),
    ({"at_s": True}, "whole unix seconds"),
])
def test_entries_that_break_their_kind_are_refused(changes, message):
    with pytest.raises(EvidenceError, match=message):
        repayment(**changes)


def test_every_kind_the_issue_names_is_in_the_table():
    assert set(KINDS) >= {
        "pledge", "release.requested", "release.approved", "delivery_order.issued", "repayment",
        "price_mark.used", "fx_rate.used", "alert.opened", "alert.acknowledged", "alert.resolved",
        "gateway_key.registered", "gateway_key.rotated", "book.changed", "batch.ingested"}
    for kind in KINDS.values():
        assert set(kind.subjects) <= SUBJECTS
        assert not set(kind.required) & set(kind.optional)
    for name in ("alert.acknowledged", "alert.resolved", "release.approved", "book.changed"):
        assert "by" in KINDS[name].required       # who acted


def test_a_batch_entry_carries_the_hash_of_its_signed_envelope():
    entry = Entry("batch.ingested", 1_700_000_000, {"gateway": "gw-1", "batch": "gw-1/42"},
                  {"envelope_sha256": "ab" * 32, "readings": 120})
    assert json.loads(entry.leaf())["payload"]["envelope_sha256"] == "ab" * 32


@pytest.mark.parametrize("leaf", [
    b'{"at_s":1,"kind":"alert.resolved","payload":{"by":"a"},"subjects":{"alert":"A1"},"v":1} ',   # whitespace
    b'{"kind":"alert.resolved","at_s":1,"payload":{"by":"a"},"subjects":{"alert":"A1"},"v":1}',    # order
    b'{"at_s":1,"kind":"alert.resolved","payload":{"by":"a"},"subjects":{"alert":"A1"},"v":2}',
    b'{"at_s":1,"kind":"repayment","payload":{"amount":2.5,"by":"a","currency":"USD"},"subjects":{"loan":"L"},"v":1}',
    b'{"at_s":1,"kind":"repayment","payload":{"amount":"2.50","by":"a","currency":"USD"},"subjects":{"loan":"L"},'
    b'"v":1}'.replace(b'"2.50"', b'NaN'),
    b'{"at_s":1,"kind":["x"],"payload":{},"subjects":{},"v":1}',
    b'[1]', b'\xff',
])
def test_a_leaf_that_is_not_canonical_is_refused(leaf):
    with pytest.raises(EvidenceError):
        parse_leaf(leaf)
