"""The book split into partitions: each loan, lot and gateway watched by exactly one, and
the partitions together raise exactly the alerts one monitor of the whole book raises."""
from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest
from factory import loan, lot, message, noisy_sample, tick

from backend.domain import registry as reg
from backend.domain.alerts import AlertOpened, Condition
from backend.domain.config import MonitorConfig
from backend.domain.monitor import Market, MonitorState, step
from backend.domain.partitions import MARKET, Partition, partition_of, sub_registry

GATEWAYS = [f"gw-{n}" for n in range(8)]


def big_book() -> reg.Registry:
    """8 warehouses, 24 lots; 8 loans of 2 lots (two lenders), 8 lots backing no loan; a
    copper lot pledged and never priced."""
    lots = [lot(f"lot-{n:02d}", items=10, warehouse=f"wh-{n % 8}") for n in range(24)]
    lots[3] = replace(lots[3], commodity_id="copper")
    loans = [loan(f"loan-{n}", (f"lot-{2 * n:02d}", f"lot-{2 * n + 1:02d}"),
                  lender="bank-a" if n % 2 else "bank-b") for n in range(8)]
    return reg.Registry(
        lenders={"bank-a": reg.Lender("bank-a"), "bank-b": reg.Lender("bank-b")},
        borrowers={"acme": reg.Borrower("acme")},
        warehouses={f"wh-{n}": reg.Warehouse(f"wh-{n}", f"gw-{n}") for n in range(8)},
        gateways={f"gw-{n}": reg.Gateway(f"gw-{n}", f"wh-{n}") for n in range(8)},
        commodities={"steel": reg.Commodity("steel", "t", False, None, 3600),
                     "copper": reg.Commodity("copper", "t", False, None, 3600)},
        lots={x.id: x for x in lots}, loans={x.id: x for x in loans})


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_every_lot_loan_and_gateway_is_watched_by_one_partition_with_its_loan(count):
    book = big_book()
    parts = [sub_registry(book, Partition(n, count)) for n in range(count)]
    assert sorted(lot_id for p in parts for lot_id in p.lots) == sorted(book.lots)
    assert sorted(loan_id for p in parts for loan_id in p.loans) == sorted(book.loans)
    for p in parts:
        assert all(lot_id in p.lots for loan in p.loans.values() for lot_id in loan.lot_ids)
        assert all(p.lot_gateways[lot_id] in p.gateways for lot_id in p.lots)
    owners = {g: [n for n in range(count) if Partition(n, count).owns(Condition("gateway_offline", g, gateway=g), {})]
              for g in GATEWAYS}
    assert all(len(found) == 1 and g in parts[found[0]].gateways for g, found in owners.items())


def test_the_partition_is_the_same_in_every_process_and_version():
    """CRC-32, not hash(): monitors on different hosts (or versions) must agree."""
    assert [partition_of(f"loan-{n}", 4) for n in range(6)] == [1, 3, 1, 3, 0, 2]


def scenario(book: reg.Registry):
    """Every gateway reports for 20 minutes; gw-3 goes silent after 5; half of lot-04's
    items leave after 8; steel is priced, copper never."""
    rng, start_s = random.Random(5), 1_800_000_000.0
    thief = book.lots["lot-04"]
    for minute in range(40):
        now_s = start_s + minute * 60
        messages = []
        for g in GATEWAYS:
            if g == "gw-3" and minute >= 5:
                continue
            present = lambda x: frozenset(thief.epc_order[:5]) if x.id == "lot-04" and minute >= 8 else None  # noqa: E731
            samples = [noisy_sample(x, rng, now_s, present(x)) for x in book.lots.values()
                       if book.lot_gateways[x.id] == g]
            messages.append(message(g, now_s, *samples))
        yield now_s, messages, (tick(8000, now_s),) if minute % 10 == 0 else ()


@pytest.mark.parametrize("count", [2, 3])
def test_the_partitions_together_raise_each_alert_of_the_whole_book_once(count):
    book = big_book()
    steps = list(scenario(book))
    whole = keys(book, None, steps)
    parts = [keys(book, Partition(n, count), steps) for n in range(count)]
    assert sorted(k for p in parts for k in p) == whole  # none missed, none twice
    assert {"gateway_offline", "unauthorized_removal", "price_stale"} <= {t for t, _ in whole}
    assert ("price_stale", "copper") in parts[MARKET]


def keys(book, partition, steps) -> list[tuple[str, str]]:
    """(type, loan or lot or gateway or commodity) of the alerts opened."""
    whole = book
    registry = book if partition is None else sub_registry(book, partition)
    owns = None if partition is None else (lambda c: partition.owns(c, whole.loan_of_lot))
    state, opened = MonitorState(), []
    for now_s, messages, ticks in steps:
        result = step(state, registry, messages, Market(ticks), now_s, MonitorConfig(), owns=owns)
        state = result.state
        opened += [(e.alert.type, e.alert.lot or e.alert.loan or e.alert.gateway or e.alert.details.get("commodity"))
                   for e in result.events if isinstance(e, AlertOpened)]
    return sorted(opened)


def test_loans_without_lots_and_a_decimal_outstanding_stay_in_their_partition():
    book = big_book()
    book = replace(book, loans={**book.loans, "loan-empty": replace(book.loans["loan-0"], id="loan-empty",
                                                                      lot_ids=(), outstanding=Decimal("1.5"))})
    owner = partition_of("loan-empty", 3)
    assert "loan-empty" in sub_registry(book, Partition(owner, 3)).loans
