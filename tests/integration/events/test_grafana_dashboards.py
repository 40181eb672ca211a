"""The Grafana dashboards query only measurements and fields the backend writes to InfluxDB.

What is written is not copied from docs: readings come from a real edge driver (`sim_lot`),
cross the wire codec as the backend decodes them, and are turned into line protocol by the
InfluxDB store's own `reading_line`, live and store-and-forward alike.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import re
from pathlib import Path

import yaml

from backend.adapters.influx_readings import reading_line
from edge import protocol
from edge.drivers.simulated import SimLotConfig, SimulatedLot

GRAFANA = Path(__file__).resolve().parents[3] / "dashboards" / "grafana"
MEASUREMENT = re.compile(r'r\._measurement\s*==\s*"([^"]+)"')
FIELD = re.compile(r'r\._field\s*==\s*"([^"]+)"')


def driver_readings() -> list[protocol.Reading]:
    """A few rounds of a simulated lot with a probe, as the backend decodes them."""
    config = SimLotConfig(lot="lot-1", items=5, item_weight_kg=1000.0, epc_prefix="ABCD", temperature_c=-22.0)
    driver = SimulatedLot(config, clock=itertools.count(1_800_000_000).__next__)
    samples = [sample for _ in range(5) for sample in asyncio.run(driver.read())]
    readings = [protocol.Reading(s.sensor, s.kind, s.time_ms, s.values, s.quality) for s in samples]
    return list(protocol.decode(protocol.encode("gw-1", 1, 1, 1_800_000_000_000, readings, None)).readings)


def written_schema() -> dict[str, set[str]]:
    """measurement → fields, parsed from the line protocol the store writes."""
    schema: dict[str, set[str]] = {}
    for reading in driver_readings():
        for historical in (False, True):
            series, fields, _ = reading_line("gw-1", reading, historical).split(" ")
            schema.setdefault(series.split(",")[0], set()).update(f.split("=")[0] for f in fields.split(","))
    return schema


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def test_every_panel_queries_written_measurements_and_fields():
    schema = written_schema()
    assert {"weight", "rfid", "temperature"} <= set(schema)  # the derivation saw every kind the lot reports
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel["targets"]:
                measurements, fields = MEASUREMENT.findall(target["query"]), FIELD.findall(target["query"])
                where = f"{name} panel {panel['title']!r}"
                assert measurements and fields, f"{where} names no measurement or field"
                for measurement, field in itertools.product(measurements, fields):
                    assert field in schema.get(measurement, set()), \
                        f"{where}: {measurement}.{field} is never written (written: {schema})"


def test_dashboards_have_fixed_unique_uids_and_use_the_provisioned_datasource():
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "pledgewatch-influxdb.yaml").read_text())
    [datasource] = provisioned["datasources"]
    assert datasource["type"] == "influxdb" and datasource["jsonData"]["version"] == "Flux"
    boards = dashboards()
    uids = [board["uid"] for board in boards.values()]
    assert len(boards) >= 2 and len(set(uids)) == len(uids) and all(uids)
    for board in boards.values():
        used = [panel["datasource"]["uid"] for panel in board["panels"]] + \
               [target["datasource"]["uid"] for panel in board["panels"] for target in panel["targets"]]
        assert set(used) == {datasource["uid"]}
        assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "pledgewatch.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"
