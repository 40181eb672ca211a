"""The shape of the house, checked: who may import whom (DESIGN.md "Layout").

- backend/domain is pure: no I/O, no clocks, nothing of services, adapters or api;
- services import domain and ports, never adapters, api or bootstrap;
- adapters never import services or api; routes (backend/api) never import adapters;
- of `edge`, the backend and the simulator import only the wire contract, edge.protocol
  (but the command line, which starts every role, the agent included); the simulator also
  the pure device-protocol codecs (a simulated device speaks its protocol byte for byte);
- edge.protocol stands alone: the standard library, `cryptography` and its own format
  modules, plus a named library or two for each module that is not the format itself;
- the device-protocol codecs import the standard library and themselves only;
- production never runs through the simulation: only the what-if runs (backend.scenario),
  the demo, the benchmarks and the command line import backend.scenario or firmware_sim,
  and the book (backend.book), which start-up reads and a scenario embeds, does not.

`DEBT` lists the imports that broke a rule when these checks arrived (issue 13 pays them
off): a new break fails, and so does a listed one that is gone (strike it from the list).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IO_MODULES = ("asyncio", "socket", "sqlite3", "sqlalchemy", "httpx", "paho", "aiomqtt", "threading",
              "subprocess", "time", "datetime", "os", "requests", "urllib", "influxdb_client", "fastapi")
PROTOCOL_CORE = tuple(f"edge.protocol.{name}" for name in ("errors", "topics", "envelope", "signing", "codec", "keys"))
PROTOCOL_EXTRAS = {  # what each other module of edge.protocol may use beyond the core's imports
    "edge.protocol.broker": ("pydantic",),  # the `broker:` settings block, checked field by field
    "edge.protocol.settings": ("pydantic", "pydantic_settings", "yaml"),  # how a role reads its settings
    "edge.protocol.wire_fast": ("orjson", "nacl"),  # the backend's fast path; a gateway never loads it
}
# A simulated device speaks its device protocol byte for byte, so it shares the drivers' pure codecs.
DEVICE_CODECS = ("edge.llrp", "edge.modbus_map")


# The only backend modules that may run the simulation (backend.book is not one of them).
SIMULATION_USERS = ("backend.scenario", "backend.demo", "backend.bench", "backend.cli")


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
    if _under(module, "backend") and not _under(module, *SIMULATION_USERS) \
            and _under(name, "backend.scenario", "firmware_sim"):
        return True
    if _under(module, "edge.protocol"):
        return not (_stdlib(name) or _under(name, "cryptography", *PROTOCOL_CORE, *PROTOCOL_EXTRAS.get(module, ())))
    if _under(module, *DEVICE_CODECS):
        return not (_stdlib(name) or _under(name, *(codec for codec in DEVICE_CODECS if _under(module, codec))))
    # backend.cli is the one command line of every role: `pledgewatch edge` starts the agent.
    if module.startswith(("backend.", "firmware_sim.")) and module != "backend.cli" and _under(name, "edge"):
        return not _under(name, "edge.protocol", *(DEVICE_CODECS if module.startswith("firmware_sim.") else ()))
    return False


def _stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names


def broken_rules(module: str, imported: set[tuple[str, tuple[str, ...]]]) -> set[str]:
    """'module -> imported' for each import that breaks a rule."""
    return {f"{module} -> {report}" for report, readings in imported
            if all(_breaks(module, name) for name in readings)}


def violations() -> set[str]:
    found = set()
    for package in ("backend", "firmware_sim", "edge"):
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
    simulation = "from backend.scenario.model import Scenario\nfrom firmware_sim import models\n"
    assert broken_rules("backend.bootstrap", imports_of(simulation, "backend.bootstrap")) \
        == {"backend.bootstrap -> backend.scenario.model", "backend.bootstrap -> firmware_sim.models"}
    assert broken_rules("backend.book.build", imports_of("from ..scenario import world", "backend.book.build")) \
        == {"backend.book.build -> backend.scenario"}
    assert broken_rules("backend.demo.x", imports_of(simulation, "backend.demo.x")) == set()
    assert broken_rules("backend.scenario.x", imports_of(simulation + "from backend.book import model",
                                                         "backend.scenario.x")) == set()
    sim = "from edge.llrp import messages\nfrom edge.modbus_map import ScaleInput\nfrom edge.drivers import Clock"
    assert broken_rules("firmware_sim.x", imports_of(sim, "firmware_sim.x")) == {"firmware_sim.x -> edge.drivers"}
    assert broken_rules("backend.x", imports_of("from edge.llrp import messages", "backend.x")) == {"backend.x -> edge.llrp"}
    codec = "import json\nimport pydantic\nfrom .signing import Signer\nfrom edge.protocol import wire_fast"
    assert broken_rules("edge.protocol.codec", imports_of(codec, "edge.protocol.codec")) \
        == {"edge.protocol.codec -> pydantic", "edge.protocol.codec -> edge.protocol"}
    assert broken_rules("edge.protocol.wire_fast", imports_of("import orjson\nfrom nacl.signing import VerifyKey",
                                                              "edge.protocol.wire_fast")) == set()
    assert broken_rules("edge.llrp.stream", imports_of("import asyncio\nfrom edge.drivers import DriverError",
                                                       "edge.llrp.stream")) == {"edge.llrp.stream -> edge.drivers"}


def test_no_new_break_of_the_import_rules_and_the_debt_only_shrinks():
    found = violations()
    new, paid = found - DEBT, DEBT - found
    assert not new, f"imports that break the layering rules: {sorted(new)}"
    assert not paid, f"no longer broken: strike these from DEBT: {sorted(paid)}"


DEBT: frozenset[str] = frozenset()
