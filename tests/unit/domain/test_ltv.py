from decimal import Decimal

import pytest
from factory import thresholds
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.ltv import LoanStanding, cure_amount, level, next_standing, target_status
from backend.domain.valuation import loan_to_value, lot_value

D = Decimal
T = thresholds()
BAND = D("0.02")


@pytest.mark.parametrize("ltv, expected", [
    ("0.00", "normal"), ("0.6999", "normal"), ("0.70", "warning"), ("0.7999", "warning"),
    ("0.80", "margin_call"), ("0.8999", "margin_call"), ("0.90", "liquidation"), ("5", "liquidation"),
])
def test_thresholds_are_entered_at_their_value(ltv, expected):
    assert level(D(ltv), T) == expected


@pytest.mark.parametrize("current, ltv, expected", [
    ("normal", "0.71", "warning"),          # up at once
    ("warning", "0.69", "warning"),         # within the band: stays
    ("warning", "0.6801", "warning"),
    ("warning", "0.6799", "normal"),        # below threshold − band: steps down
    ("margin_call", "0.79", "margin_call"),
    ("margin_call", "0.77", "warning"),
    ("margin_call", "0.50", "normal"),
    ("liquidation", "0.89", "liquidation"),
    ("liquidation", "0.87", "margin_call"),
    ("warning", "0.95", "liquidation"),     # straight up past two thresholds
])
def test_hysteresis_on_the_way_down(current, ltv, expected):
    assert target_status(current, D(ltv), T, BAND) == expected


def test_margin_call_sets_a_cure_deadline_and_defaults_when_not_cured():
    standing, _ = next_standing(LoanStanding(), D("0.85"), T, 3600, BAND, 100)
    assert (standing.status, standing.cure_deadline_s) == ("margin_call", 3700)
    standing, _ = next_standing(standing, D("0.85"), T, 3600, BAND, 3699)
    assert standing.status == "margin_call"
    standing, _ = next_standing(standing, D("0.85"), T, 3600, BAND, 3700)
    assert standing.status == "default"
    standing, _ = next_standing(standing, D("0.10"), T, 3600, BAND, 4000)
    assert standing.status == "default"      # a default is final


def test_a_cure_is_reported_once_and_clears_the_deadline():
    standing, _ = next_standing(LoanStanding(), D("0.85"), T, 3600, BAND, 0)
    standing, cured = next_standing(standing, D("0.55"), T, 3600, BAND, 60)
    assert (standing.status, standing.cure_deadline_s, cured) == ("normal", None, True)
    standing, cured = next_standing(standing, D("0.55"), T, 3600, BAND, 120)
    assert not cured


def test_an_unknown_ltv_changes_nothing():
    standing = LoanStanding("warning", 10)
    assert next_standing(standing, None, T, 3600, BAND, 500) == (standing, False)


def test_cure_amount_restores_the_target():
    assert cure_amount(D(900), D("0.6"), D(1000)) == D(300)
    assert cure_amount(D(500), D("0.6"), D(1000)) == D(0)


prices = st.decimals(min_value=D("0.01"), max_value=D(100_000), places=2)


@given(prices, prices, st.decimals(min_value=D(1), max_value=D(10**9), places=2),
       st.decimals(min_value=D("0.001"), max_value=D(10**5), places=3))
def test_ltv_never_falls_when_the_price_falls(price_a, price_b, outstanding, quantity):
    high, low = max(price_a, price_b), min(price_a, price_b)
    value_high = lot_value(quantity, high, D("0.1"), D(1))
    value_low = lot_value(quantity, low, D("0.1"), D(1))
    assert loan_to_value(outstanding, value_low) >= loan_to_value(outstanding, value_high)


@given(st.decimals(min_value=0, max_value=2, places=4), st.sampled_from([None, 100.0, 900.0]))
def test_a_normal_standing_moves_exactly_as_its_target_status_says(ltv, deadline_s):
    normal = LoanStanding("normal", 0, deadline_s)
    standing, cured = next_standing(normal, ltv, T, 3600, BAND, 500.0)
    if deadline_s is not None and 500.0 >= deadline_s:
        assert standing.status == "default"
    elif target_status("normal", ltv, T, BAND) == "normal":
        assert standing is normal and not cured
    else:
        assert standing.status == target_status("normal", ltv, T, BAND) and not cured
