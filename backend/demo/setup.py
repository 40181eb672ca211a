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
from backend.services.api_keys import hash_api_key, new_api_key
from edge.keys import new_key_pair


@dataclass(frozen=True)
class DemoPorts:
    broker: int
    http: int
    broker_protocol: int = 5  # 4 when the broker is the embedded amqtt


@dataclass(frozen=True)
class DemoLayout:
    root: Path
    backend_config: Path
    edge_configs: dict[str, Path]  # gateway id -> config file
    api_keys: dict
    broker_dir: Path


def load_seed(path: Path | None = None) -> dict:
    text = path.read_text() if path else resources.files("seeds").joinpath("demo.yaml").read_text()
    return yaml.safe_load(text)


def write_config_set(root: Path, ports: DemoPorts, seed: dict) -> DemoLayout:
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    gateways = [w["gateway"] for w in seed["warehouses"]]
    public_keys = {gw: _gateway_key(root / "keys", gw) for gw in gateways}
    api_keys = _api_keys(root / "api-keys.json", [lender["id"] for lender in seed["lenders"]])
    backend_config = root / "backend.yaml"
    _write_yaml(backend_config, _backend_config(root, ports, public_keys, api_keys))
    edge_configs = {}
    for warehouse in seed["warehouses"]:
        gw = warehouse["gateway"]
        edge_configs[gw] = root / f"edge-{gw}.yaml"
        _write_yaml(edge_configs[gw], _edge_config(root, ports, gw, warehouse["id"], seed))
    broker_dir = root / "broker"
    broker_dir.mkdir(exist_ok=True)
    (broker_dir / "mosquitto.conf").write_text(mosquitto_config_text(ports.broker, broker_dir))
    (root / "README.md").write_text(_README.format(root=root, http=ports.http, broker=ports.broker,
                                                   gateways=" ".join(gateways)))
    return DemoLayout(root, backend_config, edge_configs, api_keys, broker_dir)


def _gateway_key(key_dir: Path, gateway: str) -> str:
    public_path = key_dir / f"{gateway}.pub"
    if not (key_dir / f"{gateway}.key").exists():
        _, public_path = new_key_pair(key_dir, gateway)
    return public_path.read_text()


def _api_keys(path: Path, lenders: list[str]) -> dict:
    keys = json.loads(path.read_text()) if path.exists() else {}
    keys.setdefault("admin", new_api_key())
    keys.setdefault("supervisor", new_api_key())
    keys.setdefault("lenders", {})
    for lender in lenders:
        keys["lenders"].setdefault(lender, new_api_key())
    path.write_text(json.dumps(keys, indent=2) + "\n")
    path.chmod(0o600)
    return keys


def _backend_config(root: Path, ports: DemoPorts, public_keys: dict[str, str], api_keys: dict) -> dict:
    key_entries = [{"name": "demo-admin", "role": "admin", "key_hash": hash_api_key(api_keys["admin"])},
                   {"name": "demo-supervisor", "role": "supervisor",
                    "key_hash": hash_api_key(api_keys["supervisor"])}]
    key_entries += [{"name": f"demo-{lender}", "role": "lender", "lender": lender,
                     "key_hash": hash_api_key(key)} for lender, key in api_keys["lenders"].items()]
    return {
        "data_dir": str(root / "data"),
        "broker": {"host": "127.0.0.1", "port": ports.broker, "protocol": ports.broker_protocol},
        "http": {"host": "127.0.0.1", "port": ports.http},
        "gateways": [{"id": gw, "public_key_pem": pem} for gw, pem in public_keys.items()],
        "api_keys": key_entries,
        "demo_mode": True,
    }


def _edge_config(root: Path, ports: DemoPorts, gateway: str, warehouse: str, seed: dict) -> dict:
    commodities = {c["id"]: c for c in seed["commodities"]}
    drivers = []
    for n, lot in enumerate(lot for lot in seed["lots"] if lot["warehouse"] == warehouse):
        commodity = commodities[lot["commodity"]]
        unit_kg = {"t": 1000.0, "kg": 1.0}.get(commodity["unit"], 1.0)
        probe_c = (commodity["temperature_max_c"] - 4 if commodity.get("perishable") else None)
        drivers.append({"driver": "sim_lot", "every_s": 2.0, "config": {
            "lot": lot["id"], "items": lot["items"],
            "item_weight_kg": lot.get("item_weight_kg", lot["item_quantity"] * unit_kg),
            "epc_prefix": hashlib.sha256(lot["id"].encode()).hexdigest()[:8].upper(),
            "temperature_c": lot.get("temperature_c", probe_c),
            "seed": seed.get("seed", 0) * 1000 + n}})
    return {
        "gateway_id": gateway,
        "broker": {"host": "127.0.0.1", "port": ports.broker, "protocol": ports.broker_protocol},
        "state_dir": str(root / "edge" / gateway),
        "key_file": str(root / "keys" / f"{gateway}.key"),
        "batch": {"max_readings": 50, "max_delay_s": 1.0},
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
    for gw in {gateways}; do pledgewatch edge --config {root}/edge-$gw.yaml & done

What is here:
- `backend.yaml`   the backend: broker, HTTP port, data dir, registered gateway keys, API key hashes
- `edge-*.yaml`    one gateway agent each: its key, its outbox dir, its (simulated) devices
- `keys/`          gateway Ed25519 key pairs (`*.key` is private: it never leaves its gateway)
- `api-keys.json`  the demo API keys in clear (admin, supervisor, one per lender); the backend
                   keeps only salted hashes. Use them as `Authorization: Bearer <key>`.
- `broker/`        Mosquitto's config and persistence
- `data/`, `edge/` what the backend and the gateways store

Any setting can be overridden per process with a `PW_` environment variable, nested fields
joined with `__`, e.g. `PW_HTTP__PORT=8080 pledgewatch backend --config backend.yaml`.
"""
