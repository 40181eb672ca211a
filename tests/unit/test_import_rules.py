"""The shape of the house, checked: who may import whom (DESIGN.md "Layout").

- backend/domain is pure: no I/O, no clocks, nothing of services, adapters or api;
- services import domain and ports, never adapters, api or bootstrap;
- adapters never import services or api; routes (backend/api) never import adapters;
- of `edge`, the backend and the simulator import only the wire contract, edge.protocol
  (but the command line, which starts every role, the agent included).

`DEBT` lists the imports that broke a rule when these checks arrived (issue 13 pays them
off): a new break fails, and so does a listed one that is gone (strike it from the list).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IO_MODULES = ("asyncio", "socket", "sqlite3", "sqlalchemy", "httpx", "paho", "aiomqtt", "threading",
              "subprocess", "time", "datetime", "os", "requests", "urllib", "influxdb_client", "fastapi")


def imports_of(source: str, module: str) -> set[tuple[str, tuple[str, ...]]]:
    """What `source` (the text of `module`) imports: (name to report, names it may stand for).
    `from edge import protocol` may be the module edge.protocol: fine if any reading is."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update((alias.name, (alias.name,)) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = module.split(".")[:-node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            for alias in node.names:
                found.add((name if "." in name else f"{name}.{alias.name}", (name, f"{name}.{alias.name}")))
    return found


def _under(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _breaks(module: str, name: str) -> bool:
    if module.startswith("backend.domain") and (
            _under(name, "backend.services", "backend.adapters", "backend.api", "backend.bootstrap")
            or _under(name, *IO_MODULES)):
        return True
    if module.startswith("backend.services") and _under(name, "backend.adapters", "backend.api", "backend.bootstrap"):
        return True
    if module.startswith("backend.adapters") and _under(name, "backend.services", "backend.api"):
        return True
    if module.startswith("backend.api") and _under(name, "backend.adapters"):
        return True
    # backend.cli is the one command line of every role: `pledgewatch edge` starts the agent.
    return (module.startswith(("backend.", "firmware_sim.")) and module != "backend.cli"
            and _under(name, "edge") and not _under(name, "edge.protocol"))


def broken_rules(module: str, imported: set[tuple[str, tuple[str, ...]]]) -> set[str]:
    """'module -> imported' for each import that breaks a rule."""
    return {f"{module} -> {report}" for report, readings in imported
            if all(_breaks(module, name) for name in readings)}


def violations() -> set[str]:
    found = set()
    for package in ("backend", "firmware_sim"):
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found |= broken_rules(module, imports_of(path.read_text(), module))
    return found


def test_a_wrong_import_is_caught():
    assert broken_rules("backend.domain.ltv", imports_of("import sqlite3\nfrom time import time\n", "backend.domain.ltv")) \
        == {"backend.domain.ltv -> sqlite3", "backend.domain.ltv -> time.time"}
    assert broken_rules("backend.services.x", imports_of("from backend.adapters.db import tables", "backend.services.x")) \
        == {"backend.services.x -> backend.adapters.db"}
    assert broken_rules("backend.api.x", imports_of("from ..adapters.webhook_store import Store", "backend.api.x")) \
        == {"backend.api.x -> backend.adapters.webhook_store"}
    assert broken_rules("backend.demo.x", imports_of("from edge.config import EdgeSettings\nfrom edge import protocol",
                                                     "backend.demo.x")) == {"backend.demo.x -> edge.config"}
    assert broken_rules("backend.services.x", imports_of("from backend.domain import ltv\nfrom backend.ports import X",
                                                         "backend.services.x")) == set()


def test_no_new_break_of_the_import_rules_and_the_debt_only_shrinks():
    found = violations()
    new, paid = found - DEBT, DEBT - found
    assert not new, f"imports that break the layering rules: {sorted(new)}"
    assert not paid, f"no longer broken: strike these from DEBT: {sorted(paid)}"


DEBT = frozenset({
    "backend.adapters.mqtt_client -> edge.config",
    "backend.adapters.mqtt_commands -> edge.config",
    "backend.adapters.mqtt_ingest -> backend.services.ingest",
    "backend.adapters.mqtt_ingest -> edge.config",
    "backend.adapters.price_sources.mqtt_topic -> edge.config",
    "backend.adapters.sqlite_readings -> backend.services.wire_fast",
    "backend.api.commands -> backend.adapters.mqtt_commands",
    "backend.api.commands -> edge.keys",
    "backend.bootstrap -> edge.config",
    "backend.bootstrap -> edge.keys",
    "backend.demo.setup -> edge.keys",
    "backend.services.api_keys -> backend.adapters.db.access_repo",
    "backend.services.commands -> edge.keys",
    "backend.services.rotated_keys -> backend.adapters.db.rotated_keys_repo",
    "backend.services.rotated_keys -> edge.keys",
    "backend.services.webhooks -> backend.adapters.webhook_cloudevents",
    "backend.services.webhooks -> backend.adapters.webhook_http",
    "backend.services.webhooks -> backend.adapters.webhook_store",
    "backend.services.webhooks_relay -> backend.adapters.db.engine",
    "backend.services.webhooks_relay -> backend.adapters.webhook_cloudevents",
    "backend.services.webhooks_relay -> backend.adapters.webhook_http",
    "backend.services.webhooks_relay -> backend.adapters.webhook_store",
    "backend.services.webhooks_relay -> backend.bootstrap",
    "backend.services.webhooks_relay -> edge.config",
    "backend.settings -> edge.config",
    "backend.settings -> edge.keys",
    "firmware_sim.devices -> edge.config",
    "firmware_sim.devices -> edge.drivers",
    "firmware_sim.fleet -> edge.keys",
    "firmware_sim.llrp_reader -> edge.drivers",
    "firmware_sim.llrp_reader -> edge.llrp",
    "firmware_sim.llrp_reader -> edge.llrp.errors",
    "firmware_sim.llrp_reader -> edge.llrp.stream",
    "firmware_sim.modbus_devices -> edge.drivers",
    "firmware_sim.modbus_devices -> edge.drivers._modbus",
})
