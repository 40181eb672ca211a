"""Releases racing (issue 14), on SQLite and PostgreSQL: two approvals for the last room, or
two requests for the same EPCs, never both succeed."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from book_helpers import as_, run_for

from backend.book.naming import simulated_epcs
from backend.services.api_keys import Principal
from backend.services.registry import Conflict

LOAN = "loan-acme-1"
BORROWER = Principal("acme-steel", "borrower", borrower="acme-steel")
LENDER = Principal("bank-north", "lender", lender="bank-north")
EPCS = simulated_epcs("lot-sh-1", 40)


def _both(first, second) -> list[object]:
    """Run both at once (as near as threads get); each answer, or the Conflict it raised."""
    start = threading.Barrier(2)

    def run(action):
        start.wait()
        try:
            return action()
        except Conflict as exc:
            return exc
    with ThreadPoolExecutor(2) as pool:
        return [f.result() for f in [pool.submit(run, first), pool.submit(run, second)]]


def test_two_approvals_for_the_last_room_never_both_succeed(book):
    """1.8 M of lending value, 1 M owed, target 0.6: 133,333 of room, two coils of 45,000 ...
    asked twice, as two requests. A second approval that read the loan as it was before the
    first's order (the race) is not stored: decided again, it is refused."""
    context, client, clock = book
    run_for(context, clock, 3)
    first, second = (context.releases.ask(BORROWER, LOAN, "lot-sh-1", 2, None, None) for _ in range(2))
    store, before, seq_before = context.releases.store, context.registry.snapshot(), context.releases.store.release_seq(LOAN)
    context.releases.approve(LENDER, LOAN, first.id)
    fresh, stale_once = context.registry.snapshot, [before]
    fresh_seq, stale_seq = store.release_seq, [seq_before]
    context.releases.registry.snapshot = lambda: stale_once.pop() if stale_once else fresh()
    store.release_seq = lambda loan_id: stale_seq.pop() if stale_seq else fresh_seq(loan_id)
    try:
        try:
            context.releases.approve(LENDER, LOAN, second.id)
            raise AssertionError("the second approval went through")
        except Conflict as exc:
            assert "would lift LTV above target" in str(exc)
    finally:
        context.releases.registry.snapshot, store.release_seq = fresh, fresh_seq
    assert not stale_once and not stale_seq                       # it did decide on the stale registry first
    assert {r.id: r.state for r in context.releases.requests(LOAN)} == {first.id: "approved", second.id: "pending"}


def test_concurrent_approvals_leave_one_order(book):
    context, client, clock = book
    run_for(context, clock, 3)
    requests = [context.releases.ask(BORROWER, LOAN, "lot-sh-1", 2, None, None) for _ in range(2)]
    answers = _both(*(lambda r=r: context.releases.approve(LENDER, LOAN, r.id) for r in requests))
    assert sorted(type(a).__name__ for a in answers) == ["Conflict", "tuple"], answers
    assert len(client.get("/api/v1/delivery-orders", headers=as_("admin")).json()) == 1


def test_two_requests_for_the_same_epcs_at_once_leave_one(book):
    context, client, clock = book
    run_for(context, clock, 3)
    ask = lambda: context.releases.ask(BORROWER, LOAN, "lot-sh-1", None, frozenset(EPCS[:2]), None)  # noqa: E731
    answers = _both(ask, ask)
    assert sorted(type(a).__name__ for a in answers) == ["Conflict", "ReleaseRequest"], answers
    assert len(context.releases.requests(LOAN)) == 1
