"""The demo's set-up as files: one ready-to-run config per role, keys, API keys, README.

`pledgewatch demo --write-config DIR` stops here; `pledgewatch demo` writes the same
set into its state dir and starts every role from it. Secrets already in the folder
(gateway keys, API keys) are kept, so a demo can be stopped and resumed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from backend.demo.broker import mosquitto_config_text
from backend.demo.ports import DistinctPorts
from backend.services.api_keys import hash_api_key, new_api_key
from backend.services.commands import COMMAND_KEY_PATH
from edge.protocol.keys import load_private_key, new_key_pair, public_key_pem


@dataclass(frozen=True)
class DemoPorts:
    broker: int
    http: int
    broker_protocol: int = 5  # 4 when the broker is the embedded amqtt


@dataclass(frozen=True)
class DemoPace:
    """How soon the demo's monitor judges: a condition must hold `confirmation_s` before its
    alert opens (and be gone half that before it resolves); every device reports at least
    every `reporting_period_s`, the period the backend's freshness rules are counted in.
    Shorter than the defaults for rehearsals and tests (`pledgewatch demo --confirmation-s`)."""
    confirmation_s: int = 120
    reporting_period_s: int = 60


@dataclass(frozen=True)
class DemoLayout:
    root: Path
    backend_config: Path
    edge_configs: dict[str, Path]  # gateway id -> config file
    sim_configs: dict[str, Path]  # gateway id -> its simulated devices (`sim devices`)
    sim_control_ports: dict[str, int]  # gateway id -> the simulator's HTTP control port
    api_keys: dict
    broker_dir: Path


def load_seed(path: Path | None = None) -> dict:
    text = path.read_text() if path else resources.files("seeds").joinpath("demo.yaml").read_text()
    return yaml.safe_load(text)


def write_config_set(root: Path, ports: DemoPorts, seed: dict,
                     edge_brokers: dict[str, dict] | None = None, pace: DemoPace = DemoPace()) -> DemoLayout:
    """`edge_brokers`: a gateway's `broker` section, when not the one broker of `ports`
    (`pledgewatch cluster`: the NATS nodes, its own account)."""
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    gateways = [w["gateway"] for w in seed["warehouses"]]
    public_keys = {gw: _gateway_key(root / "keys", gw) for gw in gateways}
    command_public_pem = _backend_command_key(root / "data")
    api_keys = _api_keys(root / "api-keys.json", {"lenders": [lender["id"] for lender in seed["lenders"]],
                                                  "borrowers": [borrower["id"] for borrower in seed["borrowers"]],
                                                  "warehouses": [warehouse["id"] for warehouse in seed["warehouses"]]})
    backend_config = root / "backend.yaml"
    _write_yaml(backend_config, _backend_config(root, ports, public_keys, api_keys, seed, pace))
    edge_configs, sim_configs, control_ports = {}, {}, {}
    with DistinctPorts() as pick_port:
        devices_of = {w["gateway"]: _sim_devices_config(w["gateway"], w["id"], seed, pick_port)
                      for w in seed["warehouses"]}
    for warehouse in seed["warehouses"]:
        gw = warehouse["gateway"]
        devices = devices_of[gw]
        sim_configs[gw] = root / f"sim-devices-{gw}.yaml"
        _write_yaml(sim_configs[gw], devices)
        control_ports[gw] = devices["control_port"]
        edge_configs[gw] = root / f"edge-{gw}.yaml"
        edge = _edge_config(root, ports, gw, devices, command_public_pem, pace.reporting_period_s)
        if edge_brokers:
            edge["broker"] = edge_brokers[gw]
        _write_yaml(edge_configs[gw], edge)
        if edge_brokers:
            edge_configs[gw].chmod(0o600)  # it holds the gateway's broker password
    broker_dir = root / "broker"
    broker_dir.mkdir(exist_ok=True)
    (broker_dir / "mosquitto.conf").write_text(mosquitto_config_text(ports.broker, broker_dir))
    (root / "README.md").write_text(_README.format(root=root, http=ports.http, broker=ports.broker,
                                                   gateways=" ".join(gateways)))
    return DemoLayout(root, backend_config, edge_configs, sim_configs, control_ports, api_keys,
                      broker_dir)


def _gateway_key(key_dir: Path, gateway: str) -> str:
    public_path = key_dir / f"{gateway}.pub"
    if not (key_dir / f"{gateway}.key").exists():
        _, public_path = new_key_pair(key_dir, gateway)
    return public_path.read_text()


def _backend_command_key(data_dir: Path) -> str:
    """The key the backend signs gateway commands with (kept across demo restarts)."""
    path = data_dir / COMMAND_KEY_PATH
    if not path.exists():
        new_key_pair(path.parent, path.stem)
    return public_key_pem(load_private_key(path).public_key()).decode()


def _api_keys(path: Path, parties: dict[str, list[str]]) -> dict:
    """Admin, supervisor, and a key per lender, borrower and warehouse (by id under each)."""
    keys = json.loads(path.read_text()) if path.exists() else {}
    keys.setdefault("admin", new_api_key())
    keys.setdefault("supervisor", new_api_key())
    for kind, ids in parties.items():
        keys.setdefault(kind, {})
        for party in ids:
            keys[kind].setdefault(party, new_api_key())
    path.write_text(json.dumps(keys, indent=2) + "\n")
    path.chmod(0o600)
    return keys


def _backend_config(root: Path, ports: DemoPorts, public_keys: dict[str, str], api_keys: dict,
                    seed: dict, pace: DemoPace) -> dict:
    key_entries = [{"name": "demo-admin", "role": "admin", "key_hash": hash_api_key(api_keys["admin"])},
                   {"name": "demo-supervisor", "role": "supervisor",
                    "key_hash": hash_api_key(api_keys["supervisor"])}]
    key_entries += [{"name": f"demo-{lender}", "role": "lender", "lender": lender,
                     "key_hash": hash_api_key(key)} for lender, key in api_keys["lenders"].items()]
    key_entries += [{"name": f"demo-{borrower}", "role": "borrower", "borrower": borrower,
                     "key_hash": hash_api_key(key)} for borrower, key in api_keys["borrowers"].items()]
    key_entries += [{"name": f"demo-{warehouse}", "role": "warehouse", "warehouses": [warehouse],
                     "key_hash": hash_api_key(key)} for warehouse, key in api_keys["warehouses"].items()]
    return {
        "data_dir": str(root / "data"),
        "broker": {"host": "127.0.0.1", "port": ports.broker, "protocol": ports.broker_protocol},
        "http": {"host": "127.0.0.1", "port": ports.http},
        "gateways": [{"id": gw, "public_key_pem": pem} for gw, pem in public_keys.items()],
        "api_keys": key_entries,
        "demo_mode": True,
        "book": str(resources.files("seeds").joinpath("demo.yaml")),
        # By default scales report on change or every minute, and a confirmed alert shows in 2 minutes.
        "monitor": {"reporting_period_s": pace.reporting_period_s, "confirmation_s": pace.confirmation_s,
                    "clear_s": pace.confirmation_s // 2},
        "prices": {"sources": [_price_feed(p) for p in seed["prices"]]},
        "webhook_allow_private": True,  # so a bank's receiver can be tried on this machine
    }


def _price_feed(price: dict) -> dict:
    """A simulated market for the commodity: a random walk with the odd jump."""
    return {"kind": "simulated", "name": f"sim-{price['commodity']}"[:32], "commodity": price["commodity"],
            "currency": price["currency"], "per": price["per"], "interval_s": 5,
            "volatility_per_sqrt_day": 0.05, "jump_probability": 0.002, "jump_fraction": 0.08}


def _sim_devices_config(gateway: str, warehouse: str, seed: dict, pick_port: DistinctPorts) -> dict:
    """One scale, one LLRP reader and (perishables) one probe per lot, each on its own port."""
    commodities = {c["id"]: c for c in seed["commodities"]}
    lots = []
    for lot in (lot for lot in seed["lots"] if lot["warehouse"] == warehouse):
        commodity = commodities[lot["commodity"]]
        unit_kg = {"t": 1000.0, "kg": 1.0}.get(commodity["unit"], 1.0)
        entry = {"id": lot["id"], "items": lot["items"],
                 "item_weight_kg": lot.get("item_weight_kg", lot["item_quantity"] * unit_kg),
                 "epc_prefix": hashlib.sha256(lot["id"].encode()).hexdigest()[:8].upper(),
                 "scale": {"port": pick_port()},
                 "rfid": {"port": pick_port(), "round_period_ms": DEMO_RFID_ROUND_MS}}
        if commodity.get("perishable"):
            setpoint_c = lot.get("temperature_c", commodity["temperature_max_c"] - 4)
            entry["probe"] = {"port": pick_port(), "setpoint_c": setpoint_c}
        lots.append(entry)
    return {"gateway": gateway, "host": "127.0.0.1", "control_port": pick_port(),
            "seed": seed.get("seed", 0), "lots": lots}


DEMO_SAMPLE_EVERY_S = 2.0
DEMO_RFID_ROUND_MS = 2000


def _edge_config(root: Path, ports: DemoPorts, gateway: str, devices: dict,
                 command_public_pem: str, reporting_period_s: int) -> dict:
    """The gateway reads its simulated devices over Modbus TCP and LLRP, as on site; a steady
    scale or probe reports at least every `reporting_period_s` (the backend's period)."""
    drivers = []
    for lot in devices["lots"]:
        device = {"host": devices["host"]}
        full_kg = lot["items"] * lot["item_weight_kg"]
        drivers.append({"driver": "scale_modbus", "every_s": DEMO_SAMPLE_EVERY_S,
                        "filter": {"median_window": 3, "deadband": round(full_kg * 0.002, 1),
                                   "max_silence_s": reporting_period_s},
                        "config": {**device, "sensor": f"{lot['id']}-scale",
                                   "port": lot["scale"]["port"]}})
        drivers.append({"driver": "rfid_llrp", "every_s": DEMO_SAMPLE_EVERY_S, "config": {
            **device, "sensor": f"{lot['id']}-rfid", "port": lot["rfid"]["port"],
            "round_period_ms": DEMO_RFID_ROUND_MS}})
        if "probe" in lot:
            drivers.append({"driver": "temperature_modbus", "every_s": DEMO_SAMPLE_EVERY_S,
                            "filter": {"median_window": 3, "deadband": 0.2,
                                       "max_silence_s": reporting_period_s},
                            "config": {**device, "sensor": f"{lot['id']}-temp",
                                       "port": lot["probe"]["port"]}})
    return {
        "gateway_id": gateway,
        "broker": {"host": "127.0.0.1", "port": ports.broker, "protocol": ports.broker_protocol},
        "state_dir": str(root / "edge" / gateway),
        "key_file": str(root / "keys" / f"{gateway}.key"),
        "batch": {"max_readings": 50, "max_delay_s": 1.0},
        # The demo's clock is this machine's; a container cannot always see its NTP state.
        "clock_source": "synced",
        "commands": {"backend_public_key_pem": command_public_pem},
        "drivers": drivers,
    }


def _write_yaml(path: Path, content: dict) -> None:
    path.write_text(yaml.safe_dump(content, sort_keys=False, width=100))


_README = """\
# PledgeWatch demo set-up

Generated by `pledgewatch demo`. Each role runs as its own process from these files;
start them in this order, each in its own terminal (from the repository, with `.venv/bin`
on PATH):

    mosquitto -c {root}/broker/mosquitto.conf              # MQTT broker on 127.0.0.1:{broker}
    pledgewatch backend --config {root}/backend.yaml       # API + ingest on http://127.0.0.1:{http}
    for gw in {gateways}; do pledgewatch sim devices --config {root}/sim-devices-$gw.yaml & done
    for gw in {gateways}; do pledgewatch edge --config {root}/edge-$gw.yaml & done

What is here:
- `backend.yaml`   the backend: broker, HTTP port, data dir, registered gateway keys, API key hashes
- `sim-devices-*.yaml` each gateway's simulated devices: a Modbus TCP scale, an LLRP reader and
                   (perishables) a Modbus TCP probe per lot; faults through its HTTP control port,
                   e.g. `curl -X POST 127.0.0.1:<control_port>/lots/<lot>/remove_items -d '{{"count": 3}}'`
                   (every action: docs/edge.md)
- `edge-*.yaml`    one gateway agent each: its key, its outbox dir, drivers pointing at its devices
- `keys/`          gateway Ed25519 key pairs (`*.key` is private: it never leaves its gateway)
- `api-keys.json`  the demo API keys in clear (admin, supervisor, one per lender, borrower and warehouse); the backend
                   keeps only salted hashes. Use them as `Authorization: Bearer <key>`.
- `broker/`        Mosquitto's config and persistence
- `data/`, `edge/` what the backend and the gateways store

Any setting can be overridden per process with a `PW_` environment variable, nested fields
joined with `__`, e.g. `PW_HTTP__PORT=8080 pledgewatch backend --config backend.yaml`.
"""
