"""The sensor -> gateway map ingest checks every message against, re-read from the registry
at most once a second (a fake clock and a counting snapshot)."""
from __future__ import annotations

from backend.domain.registry import Registry, Sensor
from backend.ports.ingest import UntrustedMessage
from backend.services.sensor_owners import RegistrySensorOwners, implicated_gateways
from edge import protocol


class Snapshots:
    def __init__(self, registry: Registry) -> None:
        self.registry, self.calls = registry, 0

    def __call__(self) -> Registry:
        self.calls += 1
        return self.registry


def registry(*sensors: tuple[str, str]) -> Registry:
    return Registry(sensors={s: Sensor(s, "scale", gw, f"lot-{s}") for s, gw in sensors})


def test_owners_are_the_registered_ones_and_reread_at_most_every_refresh():
    now = [100.0]
    snapshots = Snapshots(registry(("s-1", "gw-a")))
    owners = RegistrySensorOwners(snapshots, refresh_s=1.0, clock=lambda: now[0])
    assert owners.owners({"s-1", "s-unknown"}) == {"s-1": "gw-a"}
    snapshots.registry = registry(("s-1", "gw-a"), ("s-2", "gw-b"))
    now[0] += 0.5
    assert owners.owners({"s-2"}) == {}  # not re-read yet
    now[0] += 0.6
    assert owners.owners({"s-2"}) == {"s-2": "gw-b"}
    assert snapshots.calls == 2


def test_a_foreign_sensor_message_implicates_its_sender_and_the_sensors_gateway():
    reading = protocol.Reading("s-2", "weight", 1_000, {"weight_kg": 1.0})
    payload = protocol.encode("gw-a", 1, 1, 1_000, [reading], None)
    book = registry(("s-1", "gw-a"), ("s-2", "gw-b"))
    assert implicated_gateways(UntrustedMessage(1, "gw-a", 1_000, "foreign_sensor", payload), book) == {"gw-a", "gw-b"}
    assert implicated_gateways(UntrustedMessage(2, "gw-a", 1_000, "bad_signature", payload), book) == {"gw-a"}
