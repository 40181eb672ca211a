"""RegistryService on an in-memory registry store: domain rules decide, the store keeps."""
from __future__ import annotations

from decimal import Decimal

import pytest
from fakes_monitoring import Clock, FakeRegistryStore, book, loan, lot

from backend.domain import registry as reg
from backend.services.registry import Conflict, NotFound, RegistryService


@pytest.fixture
def store() -> FakeRegistryStore:
    return FakeRegistryStore(book(lots=(lot("lot-1"), lot("lot-2", "wh-2"), lot("lot-3")),
                                  loans=(loan("loan-a", "bank-a", ("lot-1",)), loan("loan-b", "bank-b", ("lot-2",)))))


def test_the_snapshot_is_reloaded_only_after_a_write(store):
    service = RegistryService(store, Clock())
    service.snapshot()
    service.snapshot()
    assert store.loads == 1
    service.pledge("lot-3", "loan-a", "ops")
    assert service.snapshot().loans["loan-a"].lot_ids == ("lot-1", "lot-3")
    assert store.loads == 2


def test_a_pledge_is_logged_with_who_made_it(store):
    RegistryService(store, Clock()).pledge("lot-3", "loan-a", "ops@pw")
    [entry] = store.logged
    assert (entry.kind, dict(entry.subjects), entry.payload["by"]) == ("pledge", {"loan": "loan-a", "lot": "lot-3"},
                                                                       "ops@pw")


def test_pledging_a_lot_that_backs_another_loan_is_refused_with_a_notice_for_the_monitor(store):
    service = RegistryService(store, Clock())
    with pytest.raises(Conflict, match="already pledged"):
        service.pledge("lot-1", "loan-b", "ops")
    assert service.snapshot().loans["loan-b"].lot_ids == ("lot-2",)
    [notice] = service.take_notices()
    assert (notice.type, notice.lot, notice.loan, notice.lender) == ("double_pledge_attempt", "lot-1", "loan-a", "bank-a")
    assert service.take_notices() == []
    [refused] = store.logged  # logged against the loan that tried, naming no other lender
    assert (refused.kind, dict(refused.subjects)) == ("pledge.refused", {"loan": "loan-b", "lot": "lot-1"})
    assert (refused.payload["by"], refused.payload["reason"]) == ("ops", "already pledged")


def test_entities_added_are_logged_loans_and_lots_with_their_terms(store):
    service = RegistryService(store, Clock())
    lot = reg.Lot("lot-9", "wh-1", "maize", (reg.TaggedItem("E9", Decimal("2.5"), 2.5),), "s9", "r9")
    service.add(reg.Registry(lots={"lot-9": lot}), "ops@pw")
    kinds = {entry.kind: entry for entry in store.logged}
    assert set(kinds) == {"lot.created", "book.changed"}
    assert kinds["lot.created"].payload["quantity"] == Decimal("2.5")
    assert kinds["book.changed"].payload["summary"] == "added lots lot-9"


def test_a_pledge_the_store_refuses_is_a_conflict_never_a_silent_success(store):
    class RacedStore(FakeRegistryStore):
        def pledge(self, loan_id, lot_id, entries=()):  # another process pledged the lot first
            super().pledge("loan-b", lot_id)
            super().pledge(loan_id, lot_id, entries)

    raced = RacedStore(store.registry)
    with pytest.raises(Conflict):
        RegistryService(raced, Clock()).pledge("lot-3", "loan-a", "ops")
    assert raced.registry.loan_of_lot["lot-3"] == "loan-b"


def test_pledging_an_unknown_lot_is_not_found(store):
    with pytest.raises(NotFound):
        RegistryService(store, Clock()).pledge("lot-9", "loan-a", "ops")


def test_adding_an_existing_id_is_a_conflict(store):
    with pytest.raises(Conflict, match="already exists"):
        RegistryService(store, Clock()).add(reg.Registry(lenders={"bank-a": reg.Lender("bank-a")}), "ops")


def test_seeding_fills_only_an_empty_registry(store):
    assert not RegistryService(store, Clock()).seed_if_empty(book())
    empty = FakeRegistryStore()
    assert RegistryService(empty, Clock()).seed_if_empty(book())
    assert set(empty.registry.loans) == {"loan-a", "loan-b"}
