"""Request limits (pure, time comes in) and who may see what."""
from __future__ import annotations

from fakes_monitoring import book

from backend.services import access
from backend.services.api_keys import Principal
from backend.services.limits import FailureThrottle, RateLimiter


def test_a_key_may_burst_then_waits_for_its_next_token():
    limiter = RateLimiter(rate_per_s=2.0, burst=3)
    assert [limiter.retry_after_s("k", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.retry_after_s("k", 0.0) == 0.5
    assert limiter.retry_after_s("other", 0.0) == 0.0  # per key
    assert limiter.retry_after_s("k", 0.5) == 0.0


def test_a_client_with_too_many_bad_keys_waits_out_the_window():
    throttle = FailureThrottle(max_failures=2, window_s=60.0)
    throttle.failed("1.2.3.4", 0.0)
    assert throttle.retry_after_s("1.2.3.4", 1.0) == 0.0
    throttle.failed("1.2.3.4", 10.0)
    assert throttle.retry_after_s("1.2.3.4", 20.0) == 40.0
    assert throttle.retry_after_s("1.2.3.4", 61.0) == 0.0  # the first failure left the window


def test_a_lender_sees_its_own_loans_and_lots_staff_see_all():
    registry = book()
    bank_a, staff = Principal("a", "lender", "bank-a"), Principal("s", "admin")
    assert access.sees_loan(bank_a, registry, "loan-a") and not access.sees_loan(bank_a, registry, "loan-b")
    assert access.sees_lot(bank_a, registry, "lot-1") and not access.sees_lot(bank_a, registry, "lot-2")
    assert access.sees_loan(staff, registry, "loan-b") and not access.sees_loan(staff, registry, "loan-9")
    assert (access.alert_lender_filter(bank_a), access.alert_lender_filter(staff)) == ("bank-a", None)


def test_the_listing_index_names_exactly_the_loans_each_party_sees():
    registry = book()
    borrowers = {loan.borrower_id for loan in registry.loans.values()}
    callers = [Principal("s", "supervisor"), Principal("a", "lender", "bank-a"), Principal("b", "lender", "bank-b"),
               Principal("x", "lender", "bank-unknown"), Principal("w", "warehouse", warehouses=("wh-1",)),
               Principal("g", "gateway"), *(Principal(b, "borrower", borrower=b) for b in borrowers)]
    for caller in callers:
        expected = sorted(loan_id for loan_id in registry.loans if access.sees_loan(caller, registry, loan_id))
        assert list(access.visible_loan_ids(caller, registry)) == expected, caller
    assert access.visible_loan_ids(Principal("a", "lender", "bank-a"), registry)  # not vacuous
