"""Issue 12, finding 2: a margin call is cured only at the target LTV; a bounce between the
target and the call level keeps the first call's deadline; the loan defaults at it."""
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from backend.domain.ltv import LoanStanding, cure_amount, next_standing
from backend.domain.registry import Thresholds

T = Thresholds(D("0.70"), D("0.80"), D("0.90"))
BAND, TARGET, CURE_S = D("0.02"), D("0.60"), 7200


def _walk(ltvs, step_s=600):
    standing, history = LoanStanding(), []
    for n, ratio in enumerate(ltvs):
        standing, cured = next_standing(standing, ratio, T, CURE_S, BAND, n * step_s, TARGET)
        history.append((standing.status, standing.cure_deadline_s, cured))
    return history


def test_a_bounce_above_the_target_is_no_cure_and_the_first_deadline_holds():
    history = _walk([D("0.81"), D("0.76"), D("0.65"), D("0.81"), D("0.76"), D("0.81"),
                     D("0.76"), D("0.81"), D("0.76"), D("0.76"), D("0.76"), D("0.76"),
                     D("0.76"), D("0.76")])
    assert [s for s, _, _ in history[:12]] == ["margin_call"] * 12
    assert {d for _, d, _ in history[:12]} == {CURE_S}
    assert not any(cured for _, _, cured in history)
    assert history[12][0] == "default"          # at 7200 s, the first call's deadline


def test_the_target_ltv_cures_and_a_later_call_gets_its_own_deadline():
    history = _walk([D("0.85"), D("0.60"), D("0.85")])
    assert history[1] == ("normal", None, True)
    assert history[2] == ("margin_call", 1200 + CURE_S, False)


def test_repaying_the_cure_amount_reaches_the_target_and_cures():
    value = D(1_000_000)
    owed = D(850_000)
    standing, _ = next_standing(LoanStanding(), owed / value, T, CURE_S, BAND, 0, TARGET)
    after = owed - cure_amount(owed, TARGET, value)
    standing, cured = next_standing(standing, after / value, T, CURE_S, BAND, 60, TARGET)
    assert cured and standing.status == "normal" and standing.cure_deadline_s is None


def test_liquidation_falling_short_of_the_target_is_still_a_call_on_the_same_deadline():
    history = _walk([D("0.95"), D("0.72"), D("0.70")])
    assert history == [("liquidation", CURE_S, False), ("margin_call", CURE_S, False),
                       ("margin_call", CURE_S, False)]


@given(st.lists(st.decimals(min_value=D("0.3"), max_value=D("1.2"), places=3), min_size=1,
                max_size=40))
def test_no_default_is_missed_and_no_call_is_cured_above_the_target(ltvs):
    history = _walk(ltvs)
    first_call = next((n for n, r in enumerate(ltvs) if r >= T.margin_call), None)
    for n, ((status, deadline, cured), ratio) in enumerate(zip(history, ltvs)):
        assert not cured or ratio <= TARGET
        if first_call is not None and status != "default":
            cured_before = any(c for _, _, c in history[first_call:n + 1])
            assert cured_before or n * 600 < first_call * 600 + CURE_S
