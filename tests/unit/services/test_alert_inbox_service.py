"""AlertInbox on in-memory ports: who may see, acknowledge, resolve, assign and comment."""
from __future__ import annotations

import pytest
from fakes_monitoring import Clock, FakeAlertInbox, FakeAlerts, alert_record

from backend.services.alert_inbox import AlertInbox, AlertNotFound, AlertStateConflict, NotAllowed
from backend.services.api_keys import Principal

STAFF = Principal("sup-1", "supervisor")
BANK_A = Principal("bank-a-ops", "lender", "bank-a")
BANK_B = Principal("bank-b-ops", "lender", "bank-b")


class Rig:
    def __init__(self) -> None:
        self.clock, self.alerts, self.store = Clock(), FakeAlerts(), FakeAlertInbox()
        self.published: list = []
        self.inbox = AlertInbox(alerts=self.alerts, inbox=self.store, publish=self.published.extend,
                                clock=self.clock)
        self.alerts.add(alert_record("al-loss", "stock_shortfall", lender="bank-a", opened_at_s=100))
        self.alerts.add(alert_record("al-ltv", "ltv_warning", lender="bank-a", severity="warning", opened_at_s=200))
        self.alerts.add(alert_record("al-b", "margin_call", lender="bank-b", lot_id="lot-2", opened_at_s=300))


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_lender_may_not_resolve_a_loss_alert_and_it_stays_open(rig):
    with pytest.raises(NotAllowed):
        rig.inbox.resolve(BANK_A, "al-loss")
    assert rig.alerts.get("al-loss").state == "open"
    assert rig.published == []


def test_a_lender_may_resolve_its_own_alert_that_is_no_loss(rig):
    record = rig.inbox.resolve(BANK_A, "al-ltv")
    assert (record.state, record.resolved_by, record.resolved_at_s) == ("resolved", "bank-a-ops", rig.clock())


def test_staff_resolve_a_loss_alert_once(rig):
    rig.inbox.resolve(STAFF, "al-loss")
    with pytest.raises(AlertStateConflict):
        rig.inbox.resolve(STAFF, "al-loss")


def test_another_lenders_alert_does_not_exist_for_a_lender(rig):
    with pytest.raises(AlertNotFound):
        rig.inbox.visible(BANK_A, "al-b")
    with pytest.raises(AlertNotFound):
        rig.inbox.acknowledge(BANK_A, "al-b", None)
    assert rig.alerts.get("al-b").state == "open"


def test_find_lists_only_the_callers_alerts_newest_first(rig):
    assert [r.id for r in rig.inbox.find(BANK_A)] == ["al-ltv", "al-loss"]
    assert [r.id for r in rig.inbox.find(STAFF)] == ["al-b", "al-ltv", "al-loss"]
    assert [r.id for r in rig.inbox.find(STAFF, type_="margin_call")] == ["al-b"]
    assert [r.id for r in rig.inbox.find(STAFF, limit=1, offset=1)] == ["al-ltv"]


def test_acknowledging_publishes_the_change_to_the_alerts_lender(rig):
    record = rig.inbox.acknowledge(BANK_A, "al-loss", "on it")
    assert (record.state, record.acknowledged_by, record.ack_note) == ("acknowledged", "bank-a-ops", "on it")
    [event] = rig.published
    assert (event.type, event.lender, event.data["id"], event.data["state"]) == \
        ("alert.acknowledged", "bank-a", "al-loss", "acknowledged")
    with pytest.raises(AlertStateConflict):
        rig.inbox.acknowledge(BANK_A, "al-loss", None)


def test_acknowledge_many_does_each_it_can_and_says_why_not_for_the_rest(rig):
    rig.inbox.acknowledge(STAFF, "al-ltv", None)
    done, skipped = rig.inbox.acknowledge_many(BANK_A, ["al-loss", "al-ltv", "al-b", "al-loss"], None)
    assert [r.id for r in done] == ["al-loss"]
    assert set(skipped) == {"al-ltv", "al-b"}


def test_only_staff_assign(rig):
    with pytest.raises(NotAllowed):
        rig.inbox.assign(BANK_A, "al-loss", "bank-a-ops")
    rig.inbox.assign(STAFF, "al-loss", "sup-2")
    assert rig.inbox.assignees(["al-loss", "al-ltv"]) == {"al-loss": "sup-2"}
    rig.inbox.assign(STAFF, "al-loss", None)
    assert rig.inbox.assignees(["al-loss"]) == {}


def test_a_comment_is_kept_with_its_author_and_role(rig):
    rig.inbox.comment(BANK_A, "al-loss", "the borrower says a truck is late")
    [comment] = rig.inbox.comments(STAFF, "al-loss")
    assert (comment.author, comment.role, comment.text, comment.at_s) == \
        ("bank-a-ops", "lender", "the borrower says a truck is late", rig.clock())
    with pytest.raises(AlertNotFound):
        rig.inbox.comments(BANK_B, "al-loss")
