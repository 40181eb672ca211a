"""MoneyService, CollateralService and CertificateService on in-memory ports."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from fakes_money import FakeCollateralStore, FakeMoneyStore, FakeSigner
from fakes_monitoring import Clock, FakeAlerts, FakeRegistryStore, alert_record, book, lot

from backend.domain.monitor import LoanView, MonitorState
from backend.domain.registry import Interest
from backend.ports.monitor import StandingRecord
from backend.services.api_keys import Principal
from backend.services.certificates import CertificateService
from backend.services.collateral import CollateralService
from backend.services.money import MoneyService
from backend.services.registry import Conflict, NotFound, RegistryService

D = Decimal
ADMIN = Principal("root", "admin")
SUPERVISOR = Principal("sup-1", "supervisor")
BANK_A, BANK_B = Principal("bank-a", "lender", "bank-a"), Principal("bank-b", "lender", "bank-b")


def standing(value: str = "100000", stale: bool = False) -> StandingRecord:
    return StandingRecord("loan-a", "normal", D("0.4"), D(value), None, None, None, stale, 0.0, D(value))


@pytest.fixture
def money():
    clock = Clock()
    registry_store = FakeRegistryStore(book(lots=(lot("lot-1"), lot("lot-2", "wh-2"), lot("lot-3"))))
    store = FakeMoneyStore(registry_store)
    standings = {"loan-a": standing()}
    service = MoneyService(registry=RegistryService(registry_store, clock), store=store,
                           standing=standings.get, clock=clock)
    return service, store, registry_store, standings, clock


def outstanding(registry_store) -> Decimal:
    return registry_store.registry.loans["loan-a"].outstanding


def test_a_supervisors_repayment_is_pending_and_changes_nothing(money):
    service, store, registry_store, _, clock = money
    record = service.repay(SUPERVISOR, "loan-a", D(1000))
    assert (record.state, record.entered_by, record.at_s) == ("pending", "sup-1", clock())
    assert outstanding(registry_store) == 40_000
    assert [(n.topic, n.change, n.lender, n.data["amount"]) for n in store.notices] == [
        ("repayment", "pending", "bank-a", "1000.00")]


def test_only_the_loans_lender_or_an_admin_confirms_and_an_admin_is_recorded_as_such(money):
    service, store, registry_store, _, clock = money
    record = service.repay(SUPERVISOR, "loan-a", D(1000))
    for stranger in (SUPERVISOR, BANK_B):
        with pytest.raises(NotFound):
            service.confirm(stranger, "loan-a", record.id)
    clock.advance(60)
    confirmed = service.confirm(ADMIN, "loan-a", record.id)
    assert (confirmed.state, confirmed.decided_by, confirmed.decided_at_s) == ("confirmed", "root", clock())
    assert outstanding(registry_store) == 39_000
    with pytest.raises(Conflict, match="already confirmed"):
        service.confirm(BANK_A, "loan-a", record.id)


def test_the_lenders_own_repayment_is_confirmed_at_once_and_a_rejection_changes_nothing(money):
    service, store, registry_store, _, _ = money
    own = service.repay(BANK_A, "loan-a", D(500))
    assert (own.state, own.decided_by) == ("confirmed", "bank-a") and outstanding(registry_store) == 39_500
    pending = service.repay(SUPERVISOR, "loan-a", D(100))
    rejected = service.reject(BANK_A, "loan-a", pending.id, "no cash")
    assert (rejected.state, rejected.reason) == ("rejected", "no cash") and outstanding(registry_store) == 39_500


def test_a_write_that_finds_the_amount_moved_is_decided_again(money):
    service, store, registry_store, _, _ = money
    store.stale_next = 1                               # another writer moved the outstanding first
    service.repay(BANK_A, "loan-a", D(500))
    assert outstanding(registry_store) == 39_500
    store.stale_next = 10
    with pytest.raises(Conflict, match="kept changing"):
        service.draw(BANK_A, "loan-a", D(1))


def test_a_drawdown_stays_within_drawing_power(money):
    service, store, registry_store, standings, _ = money    # 0.6 × 100,000 − 40,000 = 20,000
    with pytest.raises(Conflict, match="at most 20000.00 CNY"):
        service.draw(BANK_A, "loan-a", D(20_001))
    drawdown, loan = service.draw(BANK_A, "loan-a", D(15_000))
    assert (drawdown.by, loan.outstanding, outstanding(registry_store)) == ("bank-a", 55_000, 55_000)
    assert [(n.topic, n.change, n.data["outstanding"]) for n in store.notices] == [("loan", "drawdown", "55000.00")]
    [logged] = store.logged
    assert (logged.kind, logged.payload["by"], logged.payload["amount"], logged.payload["outstanding"],
            logged.payload["reference"]) == ("drawdown", "bank-a", 15_000, 55_000, drawdown.id)
    standings["loan-a"] = standing(stale=True)
    with pytest.raises(Conflict, match="stale"):
        service.draw(BANK_A, "loan-a", D(1))


def test_closing_is_refused_while_outstanding_and_releases_the_lots(money):
    service, store, registry_store, _, _ = money
    with pytest.raises(Conflict, match="outstanding 40000.00 CNY"):
        service.close(BANK_A, "loan-a")
    service.repay(BANK_A, "loan-a", D(40_000))
    assert registry_store.registry.loan_of_lot["lot-1"] == "loan-a"   # repaid: still held
    closed = service.close(BANK_A, "loan-a")
    assert closed.lot_ids == () and "lot-1" not in registry_store.registry.loan_of_lot
    assert store.notices[-1].change == "closed" and store.notices[-1].data["released_lots"] == ["lot-1"]
    assert [(e.kind, e.payload["by"]) for e in store.logged] == [("repayment", "bank-a"), ("loan.closed", "bank-a")]
    assert store.logged[-1].payload["released_lots"] == ["lot-1"]


def test_interest_starts_at_the_first_pass_and_posts_whole_days(money):
    service, store, registry_store, _, clock = money
    loans = registry_store.registry.loans
    registry_store._write(loans={**loans, "loan-a": replace(loans["loan-a"], interest=Interest(D("0.09")))})
    assert service.post_interest() == []                                # starts now
    clock.advance(86_400 - 1)
    assert service.post_interest() == []                                # not a whole day yet
    clock.advance(86_400 + 1)
    [posting] = service.post_interest()
    assert (posting.days, posting.amount) == (2, D("20.00"))            # 40,000 × 0.09 / 360 = 10.00 a day
    assert outstanding(registry_store) == D("40020.00")
    assert (store.notices[-1].change, store.notices[-1].data["rate"]) == ("interest_posted", "0.09")
    [logged] = store.logged
    assert (logged.kind, logged.at_s, logged.payload["by"], logged.payload["amount"], logged.payload["days"]) == \
        ("interest.posted", int(posting.to_s), "system", D("20.00"), 2)


# -- collateral ------------------------------------------------------------------------------

@pytest.fixture
def collateral():
    clock = Clock()
    registry_store = FakeRegistryStore(book(lots=(lot("lot-1"), lot("lot-2", "wh-2"), lot("lot-3"))))
    store = FakeCollateralStore(registry_store)
    states: list[MonitorState | None] = [None]
    service = CollateralService(registry=RegistryService(registry_store, clock), store=store,
                                monitor_state=lambda: states[0], fx_rates=dict, clock=clock)
    return service, store, registry_store, states


def test_a_supervisors_top_up_waits_for_the_lender_and_the_guard_applies_at_approval(collateral):
    service, store, registry_store, _ = collateral
    asked = service.ask(SUPERVISOR, "loan-a", "lot-3")
    rival = service.ask(SUPERVISOR, "loan-b", "lot-3")
    assert (asked.state, rival.state) == ("pending", "pending")
    assert registry_store.registry.loans["loan-a"].lot_ids == ("lot-1",)
    with pytest.raises(NotFound):
        service.approve(BANK_B, "loan-a", "pledge", asked.id)
    approved = service.approve(BANK_A, "loan-a", "pledge", asked.id)
    assert (approved.state, approved.decided_by) == ("approved", "bank-a")
    assert registry_store.registry.loans["loan-a"].lot_ids == ("lot-1", "lot-3")
    with pytest.raises(Conflict, match="already pledged"):
        service.approve(BANK_B, "loan-b", "pledge", rival.id)
    assert [n.type for n, _ in registry_store.notices] == ["double_pledge_attempt"]
    assert [(n.topic, n.change) for n in store.notices] == [("pledge", "requested"), ("pledge", "requested"),
                                                             ("pledge", "approved")]
    assert [(e.kind, e.payload["by"]) for e in store.logged] == [
        ("pledge.requested", "sup-1"), ("pledge.requested", "sup-1"), ("pledge", "bank-a")]
    [refused] = registry_store.logged        # with the holder's notice, naming the loan that tried
    assert (refused.kind, dict(refused.subjects), refused.payload["by"]) == (
        "pledge.refused", {"loan": "loan-b", "lot": "lot-3"}, "bank-b")


def test_the_lenders_own_top_up_takes_effect_at_once(collateral):
    service, store, registry_store, _ = collateral
    done = service.ask(BANK_A, "loan-a", "lot-3")
    assert (done.state, done.requested_by, done.decided_by) == ("approved", "bank-a", "bank-a")
    assert "lot-3" in registry_store.registry.loans["loan-a"].lot_ids


def test_a_substitution_is_refused_without_a_valuation(collateral):
    service, store, registry_store, states = collateral
    with pytest.raises(Conflict, match="no valuation in this process"):
        service.ask(BANK_A, "loan-a", "lot-3", "lot-1")
    states[0] = MonitorState(loan_views={"loan-a": LoanView("loan-a", "normal", None, None, D(40_000), None,
                                                            None, None, False)})
    with pytest.raises(Conflict, match="no valuation yet"):
        service.ask(BANK_A, "loan-a", "lot-3", "lot-1")
    assert registry_store.registry.loans["loan-a"].lot_ids == ("lot-1",)
    with pytest.raises(NotFound):
        service.ask(BANK_A, "loan-a", "lot-3", "lot-2")   # lot-2 does not back loan-a


# -- certificates ----------------------------------------------------------------------------

def test_a_certificate_holds_decimal_strings_and_the_loans_open_alerts():
    clock = Clock()
    registry_store = FakeRegistryStore(book())
    alerts, signer = FakeAlerts(), FakeSigner()
    alerts.add(alert_record("al-1", lot_id="lot-1", loan_id="loan-a", lender="bank-a"))
    alerts.add(alert_record("al-2", lot_id="lot-2", loan_id="loan-b", lender="bank-b"))
    service = CertificateService(registry=RegistryService(registry_store, clock), standing={"loan-a": standing()}.get,
                                 alerts=alerts, signer=signer, monitor_state=lambda: None, clock=clock)
    signed = service.certificate("loan-a")
    [document] = signer.signed
    assert signed.key_id == "fake-key"
    assert (document["outstanding"], document["lending_value"], document["drawing_power"], document["ltv"]) == (
        D("40000.00"), D("100000.00"), D("20000.00"), D("0.400000"))
    assert [a["id"] for a in document["open_alerts"]] == ["al-1"]
    assert document["lots_valued"] is False and document["lots"] == [{"lot": "lot-1"}]

    def floats(value) -> bool:
        if isinstance(value, dict):
            return any(floats(v) for v in value.values())
        if isinstance(value, list):
            return any(floats(v) for v in value)
        return isinstance(value, float)

    assert not floats(document)
    with pytest.raises(NotFound):
        service.certificate("loan-9")
