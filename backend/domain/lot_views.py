"""The monitor's view of each lot, stored for the processes that run no monitor of the whole
book (an API-only process; every host of a cluster whose monitors are partitioned), and what
makes a stored view usable at `now` to decide a release on (issue 12).

At every tick the monitor (the single one, or each partition's holder: a "source") stores the
views of the lots it judged that changed, and then the time of the tick: every view of the
source is as of then. A view says why no goods may leave the lot (unverified since when,
the critical alerts open on it; the price is stored once per commodity), which pledged EPCs
the reader misses — as bits over the lot's pledged EPCs sorted, with their digest: 40 items
take 5 bytes, 10,000 items 1.25 KB, and none missing nothing —, the quality factor an item's
value needs, and what GET /lots/{id} shows. What only a person reads (the weight, moving with
the scale's noise at every reading) is stored at most every `DISPLAY_EVERY_S`; what a release
is decided on, at the tick it changes.

A process without the monitor decides on the freshest view judged with the lot under its
loan now (and, for the EPCs, its pledged EPCs now): none, or one older than `max_age_s`, means
no release — a monitor dead, lagging or not yet past the lot is never "release allowed".
"""
from __future__ import annotations

import hashlib
from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from backend.domain import valuation
from backend.domain.alerts import Alert
from backend.domain.monitor import LotTrack, MonitorState, item_value, lot_refusal, unverified_reason
from backend.domain.observations import PriceTick
from backend.domain.registry import Loan, Registry

WHOLE_BOOK = "book"       # the source name of a monitor of the whole book
DISPLAY_EVERY_S = 60.0    # what is only shown (weights, quantities) is stored at most this often


def source_name(partition: tuple[int, int] | None) -> str:
    """`book`, or `index/count` for a partition's monitor (a new count: new sources)."""
    return WHOLE_BOOK if partition is None else f"{partition[0]}/{partition[1]}"


@dataclass(frozen=True, slots=True)
class LotReleaseView:
    lot_id: str
    loan_id: str | None                        # the loan the lot backed when judged
    pledge_digest: str                         # of the pledged EPCs it was judged with
    unverified: str | None                     # `unverified_reason`, while the lot is unverified
    critical: str | None                       # critical alert types open on the lot, ", "-joined
    rfid_ok: bool
    scale_ok: bool
    observed_items: int
    observed_quantity: Decimal
    weight_net_kg: float | None
    expected_weight_kg: float
    missing: bytes                             # `missing_bits`: pledged EPCs not read
    quality: Decimal                           # what temperature exposure left of the value
    as_of_s: float                             # the tick it was judged at


@dataclass(frozen=True, slots=True)
class StoredLotView:
    view: LotReleaseView
    source: str
    checked_s: float                           # the source's last tick: the view holds as of then
    price: PriceTick | None                    # the source's accepted price of the lot's commodity


@dataclass(frozen=True, slots=True)
class ObservedLot:
    """What GET /lots/{id} shows of a stored view (the local monitor's LotView has the same)."""
    observed_items: int
    observed_quantity: Decimal
    rfid_ok: bool
    scale_ok: bool
    weight_net_kg: float | None
    expected_weight_kg: float | None
    missing_epcs: frozenset[str]


# -- the monitor's side ------------------------------------------------------------------------

def pledge_order(pledged: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(pledged))


def pledge_digest(order: Sequence[str]) -> str:
    """Of the pledged EPCs, sorted: the same in every process (hash() is salted per process)."""
    return hashlib.blake2b("\n".join(order).encode(), digest_size=16).hexdigest()


def missing_bits(order: Sequence[str], missing: Iterable[str]) -> bytes:
    """Bit i (of byte i // 8, from its lowest bit) set when order[i] is missing; trailing
    zero bytes dropped, so none missing is empty. EPCs not in `order` are left out."""
    bits = bytearray((len(order) + 7) // 8)
    for epc in missing:
        index = bisect_left(order, epc)
        if index < len(order) and order[index] == epc:
            bits[index >> 3] |= 1 << (index & 7)
    return bytes(bits).rstrip(b"\0")


def missing_of(order: Sequence[str], bits: bytes) -> frozenset[str]:
    """The EPCs `missing_bits` wrote; ValueError for a bit beyond `order` (other EPCs)."""
    missing = []
    for byte_index, byte in enumerate(bits):
        if byte:
            for bit in range(8):
                if byte >> bit & 1:
                    index = (byte_index << 3) + bit
                    if index >= len(order):
                        raise ValueError(f"missing EPC {index} of {len(order)} pledged")
                    missing.append(order[index])
    return frozenset(missing)


def critical_by_lot(alerts: Iterable[Alert]) -> dict[str, str]:
    """Lot id → the types of the critical alerts open on it, sorted and ", "-joined."""
    found: dict[str, set[str]] = {}
    for alert in alerts:
        if alert.lot and alert.severity == "critical":
            found.setdefault(alert.lot, set()).add(alert.type)
    return {lot_id: ", ".join(sorted(types)) for lot_id, types in found.items()}


def lot_release_view(state: MonitorState, registry: Registry, lot_id: str, digest: str, critical: str | None,
                     now_s: float) -> LotReleaseView | None:
    """The lot's view as the monitor's state has it at `now_s` (None: the lot was not
    judged). `digest`: `pledge_digest` of its pledged EPCs; `critical`: `critical_by_lot`'s entry."""
    view = state.lot_views.get(lot_id)
    if view is None:
        return None
    commodity = registry.commodities[registry.lots[lot_id].commodity_id]
    track = state.lots.get(lot_id) or LotTrack()
    missing = missing_bits(pledge_order(registry.pledged_epcs[lot_id]), view.missing_epcs) if view.missing_epcs else b""
    return LotReleaseView(
        lot_id, registry.loan_of_lot.get(lot_id), digest, unverified_reason(state.unverified.get(lot_id)),
        critical, view.rfid_ok, view.scale_ok, view.observed_items, view.observed_quantity, view.weight_net_kg,
        view.expected_weight_kg, missing, valuation.quality_factor(track.probe.exposure_degree_min, commodity), now_s)


def must_store(last: LotReleaseView | None, view: LotReleaseView, display_every_s: float = DISPLAY_EVERY_S) -> bool:
    """The first view of a lot; one that changed what a release is decided on; one that
    changed only what is shown, once `display_every_s` passed since the last stored."""
    if last is None or (last.loan_id, last.pledge_digest, last.unverified, last.critical, last.rfid_ok,
                        last.missing, last.quality) != (view.loan_id, view.pledge_digest, view.unverified,
                                                        view.critical, view.rfid_ok, view.missing, view.quality):
        return True
    return view.as_of_s - last.as_of_s >= display_every_s and (
        last.observed_items, last.observed_quantity, last.scale_ok, last.weight_net_kg, last.expected_weight_kg) != (
        view.observed_items, view.observed_quantity, view.scale_ok, view.weight_net_kg, view.expected_weight_kg)


# -- the side of a process without the monitor -------------------------------------------------

def usable_view(stored: Sequence[StoredLotView], registry: Registry, lot_id: str, now_s: float, max_age_s: float,
                digest: str | None = None) -> tuple[StoredLotView | None, str | None]:
    """(the freshest stored view judged with the lot under its loan now — and with `digest`,
    its pledged EPCs now —, None), or (None, why there is none usable at `now_s`)."""
    if not stored:
        return None, f"the monitor has no view of lot {lot_id}: no goods leave it before the monitor has judged it"
    loan_id = registry.loan_of_lot.get(lot_id)
    judged = [s for s in stored if s.view.loan_id == loan_id and (digest is None or s.view.pledge_digest == digest)]
    if not judged:
        return None, (f"the monitor has not judged lot {lot_id} as it is pledged now: no goods leave it before "
                      f"the monitor's next tick")
    best = max(judged, key=lambda s: s.checked_s)
    age_s = now_s - best.checked_s
    if age_s > max_age_s:
        return None, (f"the monitor's view of lot {lot_id} is {int(age_s)} s old (more than {max_age_s:g} s): "
                      f"no goods leave while the monitor is not judging the lot")
    return best, None


def stored_refusal(stored: StoredLotView, registry: Registry, lot_id: str, now_s: float) -> str | None:
    """`monitor.release_refusal` on a usable stored view: the price's age is judged at `now_s`."""
    commodity = registry.commodities[registry.lots[lot_id].commodity_id]
    view = stored.view
    return lot_refusal(lot_id, view.unverified, commodity, stored.price, view.critical, now_s)


def stored_present(stored: StoredLotView, pledged: frozenset[str], order: Sequence[str]) -> frozenset[str]:
    """`monitor.observed_present` of a view judged with these pledged EPCs (`order`: sorted)."""
    if not stored.view.rfid_ok:
        return frozenset()
    return pledged - missing_of(order, stored.view.missing)


def stored_value_per_item(stored: StoredLotView, registry: Registry, lot_id: str, loan: Loan,
                          fx_rates: Mapping[tuple[str, str], Decimal] | None = None) -> Decimal:
    """`monitor.value_per_item` from a stored view: its quality, its source's accepted price."""
    lot = registry.lots[lot_id]
    return item_value(lot, registry.commodities[lot.commodity_id], stored.price, loan, stored.view.quality, fx_rates)


def observed_lot(stored: StoredLotView, order: Sequence[str]) -> ObservedLot:
    view = stored.view
    return ObservedLot(view.observed_items, view.observed_quantity, view.rfid_ok, view.scale_ok,
                       view.weight_net_kg, view.expected_weight_kg, missing_of(order, view.missing))
