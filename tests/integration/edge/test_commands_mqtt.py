"""Commands through a real Mosquitto: the admin route -> signed cmd -> agent -> signed result."""
from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.rotated_keys_repo import SqlRotatedKeys
from backend.adapters.mqtt_commands import MqttCommands
from backend.api import commands as commands_route
from backend.api import deps
from backend.bootstrap import build_context
from backend.services.api_keys import hash_api_key
from backend.services.commands import COMMAND_KEY_PATH, CommandService, build_command, read_result
from backend.services.rotated_keys import RotatedKeys
from backend.settings import BackendSettings
from edge import protocol
from edge.agent import EdgeAgent
from edge.config import EdgeSettings
from edge.protocol.keys import load_private_key, load_public_key, new_key_pair, public_key_pem
from edge.protocol.settings import ConfigError

pytestmark = pytest.mark.integration


def caller_from_header(request: Request):
    """Stands in for API-key auth (tested elsewhere): the bearer token names the role."""
    roles = {"Bearer admin-key": "admin", "Bearer supervisor-key": "supervisor"}
    role = roles.get(request.headers.get("authorization", ""))
    if role is None:
        raise HTTPException(401, "no key")
    return SimpleNamespace(role=role, lender=None)


class AgentThread:
    """The agent on its own event loop, as in its own process."""

    def __init__(self, agent: EdgeAgent) -> None:
        self.agent = agent
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),),
                                        daemon=True)  # a slow stop under load must not outlive the run
        self._task = None

    async def _main(self):
        self._task = asyncio.current_task()
        try:
            await self.agent.run()
        except asyncio.CancelledError:
            pass

    def __enter__(self):
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.agent.uplink.connected:
            assert time.monotonic() < deadline, "the agent never connected"
            time.sleep(0.05)
        return self.agent

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)


@pytest.fixture
def rig(tmp_path, mosquitto):
    backend_key = Ed25519PrivateKey.generate()
    gateway_private, gateway_public = new_key_pair(tmp_path / "keys", "gw-cmd")
    (tmp_path / "data").mkdir()
    settings = BackendSettings(data_dir=tmp_path / "data", broker={"port": mosquitto.port})
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    rotated = RotatedKeys(SqlRotatedKeys(engine))
    app = FastAPI()
    app.state.context = SimpleNamespace(commands=CommandService(
        signer=protocol.Signer(backend_key), publisher=MqttCommands(settings.broker),
        gateway_keys={"gw-cmd": load_public_key(gateway_public.read_text())}, rotated=rotated, clock=time.time))
    app.dependency_overrides[deps.principal] = caller_from_header
    app.include_router(commands_route.router)
    agent = EdgeAgent(EdgeSettings(
        gateway_id="gw-cmd", broker={"port": mosquitto.port}, state_dir=tmp_path / "edge",
        key_file=gateway_private, clock_source="synced",
        commands={"backend_public_key_pem": public_key_pem(backend_key.public_key()).decode()},
        drivers=[{"driver": "sim_lot", "every_s": 1.0,
                  "config": {"lot": "l1", "items": 2, "item_weight_kg": 5, "epc_prefix": "AB"}}]))
    with AgentThread(agent):
        yield SimpleNamespace(client=TestClient(app), agent=agent, gateway_private=gateway_private,
                              settings=settings, broker=mosquitto, rotated=rotated)
    engine.dispose()


def post(rig, body: dict, key: str = "admin-key"):
    return rig.client.post("/api/v1/gateways/gw-cmd/commands", json=body,
                           headers={"Authorization": f"Bearer {key}"})


def test_each_command_is_acknowledged_with_a_signed_result(rig):
    answer = post(rig, {"command": "set_interval", "args": {"driver_index": 0, "every_s": 7.5}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ok" and answer.json()["verified"]
    assert rig.agent.sample_every_s == [7.5]

    answer = post(rig, {"command": "rebirth"}).json()
    assert (answer["status"], answer["verified"]) == ("ok", True)

    old_key_id = rig.agent.signer.key_id
    answer = post(rig, {"command": "rotate_key"}).json()
    assert (answer["status"], answer["verified"]) == ("ok", True)  # signed with the OLD key
    new_key_id = answer["result"]["new_key_id"]
    assert new_key_id != old_key_id and rig.agent.signer.key_id == new_key_id
    assert protocol.key_fingerprint(load_private_key(rig.gateway_private).public_key()) == new_key_id
    assert protocol.key_fingerprint(load_public_key(answer["result"]["new_public_key_pem"])) == new_key_id
    assert [protocol.key_fingerprint(k) for k in rig.rotated.of("gw-cmd")] == [new_key_id]

    refused = post(rig, {"command": "set_interval", "args": {"driver_index": 9, "every_s": 1}}).json()
    assert refused["status"] == "refused" and "no driver 9" in refused["detail"]
    assert refused["verified"]                 # signed with the new key, which is now known


def test_a_forged_command_is_refused_and_changes_nothing(rig):
    forger = protocol.Signer(Ed25519PrivateKey.generate())
    command, wire = build_command("gw-cmd", "set_interval", {"driver_index": 0, "every_s": 99},
                                  forger, time.time(), 60)
    answer = MqttCommands(rig.settings.broker).send("gw-cmd", command.id, wire, wait_s=5)
    outcome = read_result(answer, command, ())
    assert outcome.result.status == "refused" and "bad_signature" in outcome.result.detail
    assert rig.agent.sample_every_s == [1.0]


def test_only_an_admin_may_send_commands(rig):
    assert post(rig, {"command": "rebirth"}, key="supervisor-key").status_code == 404
    assert rig.client.post("/api/v1/gateways/gw-other/commands", json={"command": "rebirth"},
                           headers={"Authorization": "Bearer admin-key"}).status_code == 404
    assert post(rig, {"command": "reboot"}).status_code == 422


def test_an_unusable_command_key_stops_the_start_naming_it(tmp_path):
    key_path = tmp_path / "data" / COMMAND_KEY_PATH
    key_path.parent.mkdir(parents=True)
    key_path.write_text("not a key")
    settings = BackendSettings(data_dir=tmp_path / "data", roles=["api"],
                               api_keys=[{"name": "admin", "role": "admin", "key_hash": hash_api_key("k")}])
    with pytest.raises(ConfigError, match="data_dir: the backend command key keys/backend-command.key is unusable"):
        build_context(settings)
