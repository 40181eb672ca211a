"""`pledgewatch sim fleet`: publish signed wire-format traffic as N gateways.

A load generator, not a device simulator: one MQTT connection publishes for every
simulated gateway, each with its own key, boot epoch and seq, in batches of up to 50
readings at QoS 1.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from edge import protocol
from edge.protocol.keys import load_private_key, new_key_pair

BATCH_READINGS = 50


class FleetError(ValueError):
    pass


@dataclass
class FleetTotals:
    messages: int = 0
    readings: int = 0


def parse_broker_url(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
        raise FleetError(f"--broker must look like mqtt://HOST:PORT, got {url!r}")
    return parsed.hostname, parsed.port or 1883


def _signers(gateways: list[str], keys_dir: Path | None) -> dict[str, protocol.Signer | None]:
    if keys_dir is None:
        return {gw: None for gw in gateways}
    signers = {}
    for gw in gateways:
        if not (keys_dir / f"{gw}.key").exists():
            new_key_pair(keys_dir, gw)
        signers[gw] = protocol.Signer(load_private_key(keys_dir / f"{gw}.key"))
    return signers


def fleet_readings(gateway: int, sensors: int, count: int, now_ms: int,
                   rng: random.Random) -> list[protocol.Reading]:
    """`count` plausible scale readings spread over the gateway's sensors."""
    return [protocol.Reading(f"g{gateway}-s{n % sensors}", "weight", now_ms,
                             {"weight_kg": round(rng.uniform(400.0, 600.0), 1), "stable": True})
            for n in range(count)]


def run_fleet(broker_url: str, gateways: int, sensors: int, rate_hz: float,
              duration_s: float | None, keys_dir: Path | None, epoch: int | None = None) -> FleetTotals:
    host, port = parse_broker_url(broker_url)
    names = [f"fleet-gw-{n}" for n in range(gateways)]
    signers = _signers(names, keys_dir)
    epoch = epoch if epoch is not None else int(time.time())
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pw-fleet-{epoch}",
                         protocol=mqtt.MQTTv5)
    try:
        client.connect(host, port)
    except OSError as exc:
        raise FleetError(f"cannot reach the broker at {host}:{port}: {exc}") from exc
    client.loop_start()
    totals, seqs, rng = FleetTotals(), dict.fromkeys(names, 0), random.Random(epoch)
    per_tick = sensors * rate_hz  # readings per gateway per second
    started = time.monotonic()
    try:
        while duration_s is None or time.monotonic() - started < duration_s:
            tick = time.monotonic()
            for n, gw in enumerate(names):
                readings = fleet_readings(n, sensors, max(1, round(per_tick)), int(time.time() * 1000), rng)
                for start in range(0, len(readings), BATCH_READINGS):
                    seqs[gw] += 1
                    payload = protocol.encode(gw, epoch, seqs[gw], int(time.time() * 1000),
                                              readings[start:start + BATCH_READINGS], signers[gw])
                    info = client.publish(protocol.topic(gw, "data"), payload, qos=1)
                    totals.messages += 1
                    totals.readings += len(readings[start:start + BATCH_READINGS])
            info.wait_for_publish(timeout=30)  # keep the client's queue bounded
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
    return totals
