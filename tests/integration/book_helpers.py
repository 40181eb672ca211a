"""What the tests of the book API share: the demo book, its callers, and devices reporting it."""
from __future__ import annotations

from pathlib import Path

from backend.book.naming import simulated_epcs
from backend.ports.ingest import AcceptedMessage, QuarantinedMessage
from backend.services.api_keys import hash_api_key
from edge import protocol

BOOK = Path(__file__).resolve().parents[2] / "seeds" / "demo.yaml"
KEYS = {"admin": "k-admin", "supervisor": "k-super", "bank-north": "k-north", "bank-south": "k-south",
        "acme-steel": "k-acme", "delta-foods": "k-delta", "wh-shanghai": "k-wh-sh", "wh-qingdao": "k-wh-qd",
        "wh-ningbo": "k-wh-nb"}
DEMO_LOTS = {"lot-sh-1": ("gw-shanghai", 40, 12_500.0), "lot-sh-2": ("gw-shanghai", 24, 15_000.0),
             "lot-qd-1": ("gw-qingdao", 60, 2_500.0), "lot-qd-2": ("gw-qingdao", 30, 12_500.0),
             "lot-nb-1": ("gw-ningbo", 50, 1_000.0)}


class Clock:
    def __init__(self, now_s: float = 1_800_000_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def api_keys() -> list[dict]:
    entries = [{"name": "admin", "role": "admin", "key_hash": hash_api_key(KEYS["admin"])},
               {"name": "supervisor", "role": "supervisor", "key_hash": hash_api_key(KEYS["supervisor"])}]
    entries += [{"name": lender, "role": "lender", "lender": lender,
                 "key_hash": hash_api_key(KEYS[lender])} for lender in ("bank-north", "bank-south")]
    entries += [{"name": borrower, "role": "borrower", "borrower": borrower,
                 "key_hash": hash_api_key(KEYS[borrower])} for borrower in ("acme-steel", "delta-foods")]
    return entries + [{"name": keeper, "role": "warehouse", "warehouses": [keeper],
                       "key_hash": hash_api_key(KEYS[keeper])} for keeper in ("wh-shanghai", "wh-qingdao", "wh-ningbo")]


def as_(who: str) -> dict:
    return {"Authorization": f"Bearer {KEYS[who]}"}


def report(context, clock, seq: int, lots=DEMO_LOTS, missing: dict[str, int] | None = None,
           gone: dict[str, list[str]] | None = None) -> None:
    """Every lot's devices report once, as a gateway would: all tags, the full weight, with
    the last digit of a real scale and probe moving (identical readings mean a stuck sensor).
    `missing`: how many of a lot's last items have left; `gone`: exactly which ones."""
    missing, gone = missing or {}, gone or {}
    now_ms = int(clock() * 1000)
    by_gateway: dict[str, list] = {}
    for lot_id, (gateway, items, item_kg) in lots.items():
        present = [epc for epc in simulated_epcs(lot_id, items)[:items - missing.get(lot_id, 0)]
                   if epc not in gone.get(lot_id, ())]
        readings = by_gateway.setdefault(gateway, [])
        readings.append(protocol.Reading(f"{lot_id}-scale", "weight", now_ms,
                                         {"weight_kg": len(present) * item_kg + seq % 3 / 10}))
        readings.append(protocol.Reading(f"{lot_id}-rfid", "rfid", now_ms,
                                         {"tags": [{"epc": epc} for epc in present]}))
        if lot_id == "lot-nb-1":
            readings.append(protocol.Reading(f"{lot_id}-temp", "temperature", now_ms, {"temperature_c": -22.0 + seq % 3 / 10}))
    messages = [AcceptedMessage(protocol.Envelope(gw, 1, seq, now_ms, tuple(rs)), now_ms, now_ms - 300_000)
                for gw, rs in by_gateway.items()]
    context.readings.append(messages)


def run_for(context, clock, minutes: int, start_seq: int = 1, **kwargs) -> int:
    seq = start_seq
    for _ in range(minutes):
        report(context, clock, seq, **kwargs)
        context.monitor.tick()
        clock.now_s += 60
        seq += 1
    return seq


def run_forged(context, clock, minutes: int, start_seq: int, **kwargs) -> int:
    """`run_for`, with a message whose signature failed (as ingest refuses it) from
    gw-shanghai each minute: someone with the gateway's MQTT login but not its key."""
    seq = start_seq
    for _ in range(minutes):
        at_ms = int(clock() * 1000)
        context.ledger.record([], [QuarantinedMessage(protocol.topic("gw-shanghai", "data"), b"{}", "bad_signature",
                                                      "signature does not match", at_ms, 1)])
        seq = run_for(context, clock, 1, start_seq=seq, **kwargs)
    return seq
