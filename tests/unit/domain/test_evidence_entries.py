"""The entries the backend writes, and which loans an entry concerns."""
from __future__ import annotations

from decimal import Decimal

from backend.domain import evidence
from backend.domain.alerts import Alert


def test_a_batch_entry_names_its_gateway_and_idempotency_key():
    entry = evidence.batch_ingested("gw-1", 3, 42, signed_sha256="ab" * 32, readings=50, key_id="k1",
                                    received_s=1_767_225_600)
    assert entry.subjects == {"gateway": "gw-1", "batch": "gw-1/3/42"}
    assert evidence.parse_leaf(entry.leaf()) == entry


def test_alert_details_with_floats_are_logged_as_decimals_and_odd_ones_as_text():
    alert = Alert("a1", "ltv_warning", "warning", "open", 100, None, None, "L1", None, "bank", None,
                  {"ltv": 0.72})
    entry = evidence.alert_opened(alert)
    assert entry.payload["details"] == {"ltv": Decimal("0.72")} and entry.subjects["loan"] == "L1"
    odd = Alert("a2", "sensor_fault", "warning", "open", 100, None, None, None, "LOT-1", None, "gw",
                {"Bad-Key": float("nan")})
    assert evidence.alert_opened(odd).payload["details"] == '{"Bad-Key": NaN}'


def test_a_scope_covers_entries_naming_its_parts_and_fx_in_its_currency():
    scope = evidence.Scope(loans=frozenset({"L1"}), gateways=frozenset({"gw-1"}), currencies=frozenset({"CNY"}))
    mark = evidence.Entry("price_mark.used", 1, {"commodity": "steel"},
                          {"price": Decimal(1), "currency": "CNY", "unit": "t", "source": "s", "observed_at_s": 1})
    assert scope.covers(evidence.alert_worked("acknowledged", {"alert": "a", "loan": "L1"}, "ops", 1))
    assert not scope.covers(evidence.alert_worked("acknowledged", {"alert": "a", "loan": "L2"}, "ops", 1))
    assert not scope.covers(mark)
    fx = evidence.Entry("fx_rate.used", 1, {}, {"base": "USD", "quote": "CNY", "rate": Decimal("7.1"),
                                                "source": "s", "observed_at_s": 1})
    assert scope.covers(fx)


def test_an_alert_for_another_lender_on_a_shared_gateway_does_not_concern_us():
    ours = evidence.Scope(loans=frozenset({"L1"}), lots=frozenset({"LOT-1"}), gateways=frozenset({"gw-1"}),
                          lenders=frozenset({"north"}))
    theirs = evidence.alert_worked("acknowledged", {"alert": "a", "lot": "LOT-2", "loan": "L2", "lender": "south",
                                                    "gateway": "gw-1"}, "ops", 1)
    offline = evidence.alert_worked("acknowledged", {"alert": "b", "gateway": "gw-1"}, "ops", 1)
    assert not ours.covers(theirs) and ours.covers(offline)


def test_the_fast_batch_leaf_is_the_checked_one_byte_for_byte():
    for key_id in ("0123456789abcdef", None):
        for gateway in ("gw-1", "GW_2.x"):
            fields = {"signed_sha256": "0f" * 32, "readings": 1000, "key_id": key_id, "received_s": 2**40}
            assert evidence.batch_leaf(gateway, 7, 2**33, **fields) == \
                evidence.batch_ingested(gateway, 7, 2**33, **fields).leaf()
