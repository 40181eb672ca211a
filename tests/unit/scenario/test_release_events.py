"""Issue 14 in scenarios: releases requested and approved as delivery orders naming EPCs; the
monitor lets exactly those leave, fulfils the order, and alerts on any other exit."""
from pathlib import Path

from book import run_book

from backend.scenario.report import result_document
from backend.scenario.runner import run_file
from backend.scenario.world import lot_epc_prefix

SEED = Path(__file__).resolve().parents[3] / "seeds" / "scenarios" / "delivery-orders.yaml"
EPCS = [f"{lot_epc_prefix(0)}{n:016X}" for n in range(40)]     # lot-1's, in the test book


def ev(at: str, **fields):
    return {"at": at, **fields}


def actions(result) -> list[tuple]:
    return [(a.at_s, a.type, a.outcome, a.reason) for a in result.actions]


def test_the_seed_fulfils_the_order_and_catches_the_other_exits_within_a_window():
    document = result_document(run_file(str(SEED)))
    kinds = [(a["at_s"], a["type"], a["outcome"], a["reason"]) for a in document["actions"]]
    assert (2400, "approve_release", "refused", "acme is not the lender of loan-1") in kinds
    assert (3000, "approve_release", "approved", None) in kinds
    fulfilled = [k for k in kinds if k[1] == "delivery_order" and k[3].startswith("fulfilled")]
    assert fulfilled and 3600 <= fulfilled[0][0] <= 3600 + 5 * 60
    assert fulfilled[0][3] == "fulfilled: 3 items left"
    alerts = [(a["type"], a["lot"], a["opened_at_s"], a["details"]["missing_items"]) for a in document["alerts"]]
    [(_, _, swap_at, swapped), (_, _, late_at, late)] = alerts
    assert alerts[0][:2] == ("unauthorized_removal", "lot-1") and swapped == 3
    assert 3 * 3600 < swap_at <= 3 * 3600 + 15 * 60            # within one confirmation window
    assert alerts[1][:2] == ("unauthorized_removal", "lot-2") and late == 2
    assert 6 * 3600 < late_at <= 6 * 3600 + 15 * 60            # the expired order's coils: a theft
    assert document["lots"]["lot-1"]["pledged_items"] == 37      # the three delivered are released


def test_the_orders_epcs_leave_without_an_alert_and_other_items_raise_one():
    result = run_book([ev("20m", type="repay", loan="loan-1", amount=300000),
                       ev("30m", type="request_release", lot="lot-1", epcs=EPCS[:2]),
                       ev("40m", type="approve_release", loan="loan-1"),
                       ev("50m", type="remove_items", lot="lot-1", epcs=EPCS[:2]),
                       ev("1h30m", type="remove_items", lot="lot-1", count=2)], duration="2h")
    assert [a.type for a in result.alerts.values()] == ["unauthorized_removal"]
    [alert] = result.alerts.values()
    assert sorted(alert.details["missing_epcs"]) == EPCS[-2:]
    assert result.registry.delivery_orders == ()
    assert result.registry.pledged_epcs["lot-1"] == frozenset(EPCS[2:])


def test_an_approval_beyond_target_is_refused_and_a_lender_cannot_request():
    # 1.8 M − 900,000 / 0.6 = 300,000 of room: six coils of 45,000
    result = run_book([ev("30m", type="request_release", lot="lot-1", items=7),
                       ev("40m", type="approve_release", loan="loan-1"),
                       ev("50m", type="request_release", lot="lot-1", items=6),
                       ev("55m", type="request_release", lot="lot-1", items=1, by="bank-a"),
                       ev("1h", type="approve_release", loan="loan-1"),
                       ev("1h10m", type="request_release", lot="lot-1", items=1),
                       ev("1h20m", type="approve_release", loan="loan-1")], duration="2h")
    assert actions(result)[1] == (2400, "approve_release", "refused",
                                  "would lift LTV above target: at most 6 items can be released against "
                                  "this repayment")
    assert actions(result)[3][2:] == ("refused", "bank-a is a lender: a lender approves releases, it does not "
                                                 "ask for them")
    assert actions(result)[4][2] == "approved"
    # the open order's six coils count as gone: no room is left for a seventh
    assert actions(result)[6][2:] == ("refused", "would lift LTV above target: at most 0 items can be released "
                                                 "against this repayment")
