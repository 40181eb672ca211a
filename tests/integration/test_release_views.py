"""Issue 12's release guard where no monitor runs in the process: an API-only process of a
split deployment, and every host of a cluster whose monitors are partitioned. It decides on
the lot views the monitor stores at every tick (SQLite and PostgreSQL): goods never leave a
lot that is unverified, priced at a stale price or judged by a monitor that stopped; only
EPCs observed present leave; LTV after the release is checked on the real value per item
— the same decisions as on the monitor's own process."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from book_helpers import BOOK, DEMO_LOTS, Clock, api_keys, as_, report, run_for
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.book.naming import simulated_epcs
from backend.bootstrap import build_context
from backend.domain.partitions import partition_of
from backend.settings import BackendSettings

LOAN = "/api/v1/loans/loan-acme-1"
MONITOR = {"reporting_period_s": 60, "confirmation_s": 600}
MAX_AGE_S = 10.0  # the default bound: 3 × interval_s (2 s), at least 10 s
STOLEN = simulated_epcs("lot-sh-1", 40)[36:]  # the last 4 items, as report(missing=4) takes them


@dataclass
class Split:
    monitor_side: object       # roles api + monitor: releases guarded by its own monitor
    local: TestClient
    api_side: object           # roles api alone: guarded by the stored views
    remote: TestClient
    clock: Clock


@pytest.fixture
def split(tmp_path, database_url):
    clock = Clock()
    common = {"data_dir": tmp_path / "data", "database_url": database_url, "book": BOOK, "api_keys": api_keys(),
              "monitor": MONITOR}
    monitor_side = build_context(BackendSettings(roles=["api", "monitor"], **common), clock)
    api_side = build_context(BackendSettings(roles=["api"], **common), clock)
    assert api_side.monitor is None and api_side.partitioned_monitor is None
    yield Split(monitor_side, TestClient(create_app(monitor_side)), api_side, TestClient(create_app(api_side)), clock)
    api_side.close()
    monitor_side.close()


def settle(context, clock, seq: int, **kwargs) -> int:
    """The devices report and the monitor ticks now (run_for leaves the clock a minute on)."""
    report(context, clock, seq, **kwargs)
    context.monitor.tick()
    return seq + 1


def quote(client: TestClient, items: int, repayment: int = 0) -> dict:
    answer = client.post(f"{LOAN}/releases/quote", json={"lot": "lot-sh-1", "items": items, "repayment": repayment},
                         headers=as_("bank-north"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def ask_and_approve(client: TestClient, **request):
    asked = client.post(f"{LOAN}/releases", json={"lot": "lot-sh-1", **request}, headers=as_("acme-steel"))
    assert asked.status_code == 201, asked.text
    return client.post(f"{LOAN}/releases/{asked.json()['id']}/approve", headers=as_("bank-north"))


def test_a_verified_lot_releases_on_the_api_process_as_on_the_monitors(split):
    seq = run_for(split.monitor_side, split.clock, 3)
    settle(split.monitor_side, split.clock, seq)
    assert quote(split.remote, 2) == quote(split.local, 2) == {
        "approved": True, "max_items": 2, "reason": "within target LTV"}
    done = ask_and_approve(split.remote, items=1)
    assert done.status_code == 200, done.text
    assert done.json()["delivery_order"]["epcs"] == [simulated_epcs("lot-sh-1", 40)[-1]]


def test_an_unverified_lot_is_refused_before_its_alert_opens(split):
    """(a) The scale weighs far more than the tags' items: the lot is unverified at once, its
    `collateral_unverified` alert waits for the confirmation window. The old guard of an
    API-only process looked at stored critical alerts only, and let the goods out."""
    seq = run_for(split.monitor_side, split.clock, 3)
    heavy = {**DEMO_LOTS, "lot-sh-1": ("gw-shanghai", 40, 14_000.0)}
    seq = run_for(split.monitor_side, split.clock, 2, start_seq=seq, lots=heavy)
    settle(split.monitor_side, split.clock, seq, lots=heavy)
    alerts = split.remote.get("/api/v1/alerts", headers=as_("admin")).json()
    assert [(a["type"], a["severity"]) for a in alerts if a["lot"] == "lot-sh-1"] == [("sensor_fault", "warning")]
    local, remote = quote(split.local, 1), quote(split.remote, 1)
    assert remote == local and remote["approved"] is False
    assert remote["reason"].startswith("lot unverified: ")
    refused = ask_and_approve(split.remote, items=1)
    assert (refused.status_code, refused.json()["detail"]) == (409, remote["reason"])


def test_a_stale_price_is_refused(split):
    """(b) No mark for two days: the book's steel price is stale."""
    seq = run_for(split.monitor_side, split.clock, 3)
    split.clock.now_s += 2 * 86_400
    seq = run_for(split.monitor_side, split.clock, 3, start_seq=seq)
    settle(split.monitor_side, split.clock, seq)
    refused = ask_and_approve(split.remote, items=1)
    assert refused.status_code == 409 and refused.json()["detail"].startswith("price of steel_coil is stale")
    assert quote(split.remote, 1) == quote(split.local, 1)


def test_a_price_that_goes_stale_after_the_monitors_tick_is_refused_at_once(split):
    """The view says fresh; a few seconds later the price passes its max age (1 d): stale now."""
    opened_s = split.clock()                        # the book's opening prices are quoted now
    split.clock.now_s = opened_s + 86_400 - 125
    seq = run_for(split.monitor_side, split.clock, 2)
    settle(split.monitor_side, split.clock, seq)    # at opened + 1 d − 5 s: fresh
    assert quote(split.remote, 1)["approved"] is True
    split.clock.now_s += 6                           # the view is 6 s old; the price 1 d + 1 s
    remote = quote(split.remote, 1)
    assert remote == quote(split.local, 1)
    assert remote["approved"] is False and remote["reason"] == "price of steel_coil is stale (86401 s old)"


def test_no_release_before_the_monitor_judged_the_lot_nor_after_it_stopped(split):
    """(c) A dead or lagging monitor means no release, never 'release allowed'."""
    before = quote(split.remote, 1)
    assert before["approved"] is False and "no view of lot lot-sh-1" in before["reason"]
    seq = run_for(split.monitor_side, split.clock, 3)
    settle(split.monitor_side, split.clock, seq)
    split.clock.now_s += MAX_AGE_S - 1
    assert quote(split.remote, 1)["approved"] is True
    split.clock.now_s += 2                           # the monitor ticks no more
    stopped = quote(split.remote, 1)
    assert stopped["approved"] is False
    assert stopped["reason"] == ("the monitor's view of lot lot-sh-1 is 11 s old (more than 10 s): "
                                 "no goods leave while the monitor is not judging the lot")
    refused = ask_and_approve(split.remote, items=1)
    assert (refused.status_code, refused.json()["detail"]) == (409, stopped["reason"])
    lot = split.remote.get("/api/v1/lots/lot-sh-1", headers=as_("admin")).json()
    assert (lot["observed_items"], lot["rfid_ok"], lot["missing_epcs"]) == (None, None, [])


def test_only_epcs_observed_present_leave_and_the_lot_shows_what_the_monitor_sees(split):
    """(d) Four items gone, seen by the reader but not yet alerted: a release names only
    EPCs observed present; naming a missing one is refused. The old guard of an API-only
    process knew nothing observed and chose among every pledged EPC."""
    paid = split.remote.post(f"{LOAN}/repayments", json={"amount": 300000}, headers=as_("bank-north"))
    assert paid.status_code in (200, 201), paid.text
    seq = run_for(split.monitor_side, split.clock, 3)
    seq = run_for(split.monitor_side, split.clock, 3, start_seq=seq, missing={"lot-sh-1": 4})
    settle(split.monitor_side, split.clock, seq, missing={"lot-sh-1": 4})
    shown = split.remote.get("/api/v1/lots/lot-sh-1", headers=as_("admin")).json()
    assert shown == split.local.get("/api/v1/lots/lot-sh-1", headers=as_("admin")).json()
    assert (shown["observed_items"], shown["rfid_ok"], shown["missing_epcs"]) == (36, True, sorted(STOLEN))
    named = ask_and_approve(split.remote, epcs=[STOLEN[0]])
    assert named.status_code == 409
    assert named.json()["detail"].startswith("1 of the named EPCs of lot lot-sh-1 are not pledged items observed")
    chosen = ask_and_approve(split.remote, items=2)
    assert chosen.status_code == 200, chosen.text
    assert not set(STOLEN) & set(chosen.json()["delivery_order"]["epcs"])
    all_of_them = quote(split.remote, 37, repayment=1_000_000)  # more than are seen: 36, 2 on an order
    assert all_of_them["approved"] is False and all_of_them["max_items"] == 34


def test_the_ltv_check_values_the_items_as_the_monitor_does(split):
    """(e) LTV 0.556, target 0.60: 133,333 of lending value may leave, an item is worth
    12.5 t × 4000 × 0.9 = 45,000, so two items and not three. The old guard valued every
    item at 0: any number passed."""
    seq = run_for(split.monitor_side, split.clock, 3)
    settle(split.monitor_side, split.clock, seq)
    assert quote(split.remote, 3) == quote(split.local, 3) == {
        "approved": False, "max_items": 2,
        "reason": "would lift LTV above target: at most 2 items can be released against this repayment"}
    refused = ask_and_approve(split.remote, items=3)
    assert refused.status_code == 409 and refused.json()["detail"].startswith("would lift LTV above target")
    assert ask_and_approve(split.remote, items=2).status_code == 200
    assert quote(split.remote, 1) == quote(split.local, 1) == {   # the open order's items count as gone
        "approved": False, "max_items": 0,
        "reason": "would lift LTV above target: at most 0 items can be released against this repayment"}


def test_the_monitor_writes_only_the_views_that_changed(split):
    store = split.monitor_side.monitor.views
    written: list[list[str]] = []
    save = store.save

    def spy(source, as_of_s, views, **kwargs):
        written.append(sorted(view.lot_id for view in views))
        return save(source, as_of_s, views, **kwargs)
    store.save = spy
    seq = settle(split.monitor_side, split.clock, 1)
    assert written[-1] == sorted(DEMO_LOTS)          # the first tick: every lot
    split.monitor_side.monitor.tick()                # nothing new
    assert written[-1] == []
    split.clock.now_s += 30
    seq = settle(split.monitor_side, split.clock, seq, missing={"lot-sh-1": 1})
    assert written[-1] == ["lot-sh-1"]               # the scale's noise moves every lot's weight: shown later


def test_a_start_stores_a_large_book_over_several_ticks_and_releases_wait_for_all(split, monkeypatch):
    """At most VIEWS_PER_TICK views a tick (a large partition taken over must not hold its
    tick for seconds): the tick's time is stored once every view is, and not before."""
    monkeypatch.setattr("backend.services.monitor.VIEWS_PER_TICK", 2)
    store = split.monitor_side.monitor.views
    written: list[tuple[int, bool]] = []
    save = store.save

    def spy(source, checked_s, views, **kwargs):
        written.append((len(views), checked_s is not None))
        return save(source, checked_s, views, **kwargs)
    store.save = spy
    settle(split.monitor_side, split.clock, 1)
    assert quote(split.remote, 1)["reason"].startswith("the monitor has no view of lot lot-sh-1")
    split.monitor_side.monitor.tick()
    assert quote(split.remote, 1)["approved"] is False
    split.monitor_side.monitor.tick()
    assert written == [(2, False), (2, False), (1, True)]
    assert quote(split.remote, 1)["approved"] is True


# -- partitioned monitors ------------------------------------------------------------------

PARTITIONS, LEASE_S = 4, 150


@pytest.fixture
def cluster(tmp_path, database_url):
    """Two monitor hosts sharing 4 partitions and an API host, one database, one clock."""
    clock = Clock()
    common = {"data_dir": tmp_path / "data", "database_url": database_url, "book": BOOK, "api_keys": api_keys(),
              "monitor": {**MONITOR, "partitions": PARTITIONS, "lease_s": LEASE_S}}
    hosts = [build_context(BackendSettings(roles=["api", "monitor"], **common), clock) for _ in range(2)]
    yield hosts, [TestClient(create_app(host)) for host in hosts], clock
    for host in hosts:
        host.close()


def tick(hosts, clock, seq: int, **kwargs) -> int:
    report(hosts[0], clock, seq, **kwargs)
    for host in hosts:
        host.partitioned_monitor.tick()
    return seq + 1


def test_partitioned_monitors_guard_every_hosts_releases(cluster):
    """No host has a monitor of the whole book: each guards on the stored views of the
    partition that holds the lot, and refuses while no monitor holds it."""
    hosts, clients, clock = cluster
    seq = 1
    for _ in range(3):
        seq = tick(hosts, clock, seq)
        clock.now_s += 60
    seq = tick(hosts, clock, seq)
    assert all(host.monitor is None for host in hosts)
    assert [quote(client, 3)["max_items"] for client in clients] == [2, 2]  # valued, not at 0
    assert [quote(client, 1)["approved"] for client in clients] == [True, True]
    partition = partition_of("loan-acme-1", PARTITIONS)
    owner = next(i for i, host in enumerate(hosts) if partition in host.partitioned_monitor.held())
    survivor, client = hosts[1 - owner], clients[1 - owner]
    clock.now_s += 60
    seq = tick([survivor], clock, seq)               # the monitor of loan-acme-1's partition died
    stale = quote(client, 1)
    assert stale["approved"] is False and "no goods leave while the monitor is not judging" in stale["reason"]
    clock.now_s += LEASE_S
    seq = tick([survivor], clock, seq)               # its lease ran out: taken over
    assert partition in survivor.partitioned_monitor.held()
    assert quote(client, 1)["approved"] is True
    heavy = {**DEMO_LOTS, "lot-sh-1": ("gw-shanghai", 40, 14_000.0)}
    for _ in range(2):                               # the median of the scale's last 3 readings
        clock.now_s += 60
        seq = tick([survivor], clock, seq, lots=heavy)
    assert quote(client, 1)["reason"].startswith("lot unverified: ")


def test_a_monitor_that_cannot_store_its_views_goes_on_and_the_api_process_refuses(split):
    seq = run_for(split.monitor_side, split.clock, 3)
    settle(split.monitor_side, split.clock, seq)
    assert quote(split.remote, 1)["approved"] is True
    store = split.monitor_side.monitor.views
    save = store.save

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")
    store.save = broken
    split.clock.now_s += 60
    seq = run_for(split.monitor_side, split.clock, 3, start_seq=seq + 1, missing={"lot-sh-1": 4})
    settle(split.monitor_side, split.clock, seq, missing={"lot-sh-1": 4})   # the ticks go on
    assert split.monitor_side.monitor.state.lot_views["lot-sh-1"].observed_items == 36
    assert split.monitor_side.metrics.registry.get_sample_value(
        "pw_monitor_errors_total", {"stage": "lot_views"}) == 4
    refused = quote(split.remote, 1)
    assert refused["approved"] is False and "s old (more than 10 s)" in refused["reason"]
    store.save = save                                # back: the next tick stores what changed meanwhile
    split.monitor_side.monitor.tick()
    lot = split.remote.get("/api/v1/lots/lot-sh-1", headers=as_("admin")).json()
    assert (lot["observed_items"], lot["missing_epcs"]) == (36, sorted(STOLEN))


def test_the_store_keeps_each_sources_views_fenced_by_its_lease(database_url):
    from decimal import Decimal

    from backend.adapters.db.engine import make_engine
    from backend.adapters.db.lease_repo import SqlPartitionLeases
    from backend.adapters.db.lot_views_repo import SqlLotViews
    from backend.domain.lot_views import LotReleaseView
    from backend.domain.observations import PriceTick
    from backend.ports.monitor import LeaseLost

    engine = make_engine(database_url)
    store, leases = SqlLotViews(engine), SqlPartitionLeases(engine)

    def view(lot_id: str, at_s: float, missing: bytes = b"") -> LotReleaseView:
        return LotReleaseView(lot_id, "loan-1", "d" * 32, None, None, True, True, 10, Decimal("12.5"), 1000.5,
                              1000.0, missing, Decimal("0.95"), at_s)
    price = PriceTick("steel", Decimal("4000.5"), "CNY", "t", 90.0)
    store.save("book", 100.0, [view("lot-1", 100.0), view("lot-2", 100.0)], prices=[price], fresh=True)
    store.save("0/2", 101.0, [view("lot-1", 101.0, b"\x05")], fresh=True)
    [first, second] = sorted(store.of_lot("lot-1", "steel"), key=lambda s: s.source)
    assert (first.source, second.source) == ("0/2", "book")
    assert first.view == view("lot-1", 101.0, b"\x05") and (first.checked_s, first.price) == (101.0, None)
    assert second.view == view("lot-1", 100.0) and (second.checked_s, second.price) == (100.0, price)
    store.save("book", 102.0, [], gone=["lot-2"])            # judged no more: dropped, the tick moves on
    assert store.of_lot("lot-2", "steel") == [] and store.of_lot("lot-1", "steel")[1].checked_s == 102.0
    store.save("book", None, [view("lot-3", 103.0)], fresh=True)  # a new monitor of the source starts over,
    assert [s.source for s in store.of_lot("lot-1", "steel")] == ["0/2"]  # its first views not all stored:
    assert store.of_lot("lot-3", "steel") == []                            # none is read before they are
    store.save("book", 104.0, [view("lot-4", 104.0)])
    assert [s.checked_s for s in store.of_lot("lot-3", "steel")] == [104.0]
    leases.free(2, 0.0)
    held = leases.take(0, "host-a", 0.0, 10.0)
    assert held is not None
    store.save("0/2", 104.0, [view("lot-1", 104.0)], fence=held.fence)
    assert leases.take(0, "host-b", 20.0, 10.0) is not None  # host-a stalled past its lease
    with pytest.raises(LeaseLost):
        store.save("0/2", 130.0, [view("lot-1", 130.0, b"\x01")], fence=held.fence)
    [kept] = store.of_lot("lot-1", "steel")
    assert (kept.checked_s, kept.view.missing) == (104.0, b"")
    engine.dispose()
