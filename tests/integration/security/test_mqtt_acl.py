"""Per-gateway MQTT credentials on a real Mosquitto run with the files `mqtt-acl` writes."""
from __future__ import annotations

import getpass
import json
import ssl
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from waiting import wait_for

from backend.adapters.mosquitto_auth import find_dynsec_plugin, mosquitto_listeners, write_auth_files, write_tls_files
from backend.bootstrap import build_context
from backend.demo.broker import find_mosquitto
from backend.demo.ports import DistinctPorts, wait_until_listening
from backend.ports.ingest import ReadingQuery
from backend.settings import BackendSettings
from edge import protocol
from edge.protocol.keys import public_key_pem

GATEWAYS = ["gw-a", "gw-b"]
WAIT_S = 15  # generous for a machine 3x slower


@pytest.fixture
def secured_broker(tmp_path):
    plugin = find_dynsec_plugin()
    if plugin is None:
        pytest.fail("Mosquitto's dynamic-security plugin is missing: run `make test`, which installs mosquitto")
    auth = write_auth_files(tmp_path / "auth", GATEWAYS, "pw-backend")
    tls = write_tls_files(tmp_path / "auth" / "tls", GATEWAYS, ("127.0.0.1",))
    with DistinctPorts() as pick:
        port, tls_port = pick(), pick()
    config = tmp_path / "mosquitto.conf"
    config.write_text(mosquitto_listeners(port, auth, tls, tls_port, plugin)
                      + f"persistence false\nuser {getpass.getuser()}\nlog_dest file {tmp_path / 'mosquitto.log'}\n")
    broker = subprocess.Popen([find_mosquitto(), "-c", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT)
    assert wait_until_listening(port, 10) and wait_until_listening(tls_port, 10)
    yield port, tls_port, auth, tls
    broker.terminate()
    broker.wait(10)


class Session:
    """A paho client that records what it is told, for assertions. A gateway's client id is
    its user name unless told otherwise; the backend's is unique."""

    def __init__(self, port: int, user: str | None = None, password: str | None = None,
                 tls: tuple[str, str, str] | None = None, client_id: str | None = None) -> None:
        self.connected, self.answered, self.dropped = threading.Event(), threading.Event(), threading.Event()
        self.suback, self.received = threading.Event(), []
        self.reason = None
        if client_id is None:
            client_id = f"t-backend-{time.monotonic_ns()}" if user == "pw-backend" else (user or "t-anonymous")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id=client_id)
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls is not None:
            ca, cert, key = tls
            self.client.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.dropped.set() if self.connected.is_set() else None
        self.client.on_subscribe = lambda c, u, mid, codes, p: (setattr(self, "granted", codes), self.suback.set())
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        try:
            self.client.connect("127.0.0.1", port)
        except (OSError, ssl.SSLError) as exc:
            self.reason = exc
            return
        self.client.loop_start()
        self.answered.wait(WAIT_S)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.reason = reason_code
        if not reason_code.is_failure:
            self.connected.set()
        self.answered.set()

    def subscribe(self, topic: str) -> list:
        self.suback.clear()
        self.client.subscribe(topic, qos=1)
        assert self.suback.wait(WAIT_S)
        return self.granted

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        if qos:
            info.wait_for_publish(WAIT_S)

    def wait_received(self, topic: str, count: int = 1) -> bool:
        return wait_for(lambda: self.received.count(topic) >= count, WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def data(gateway: str, seq: int) -> bytes:
    reading = protocol.Reading("s-1", "weight", int(time.time() * 1000), {"weight_kg": 1.0})
    return protocol.encode(gateway, 1, seq, int(time.time() * 1000), [reading], None)


def refused(codes: list) -> bool:
    return all(code.is_failure for code in codes)


def test_anonymous_and_wrong_passwords_are_refused(secured_broker):
    port, _, auth, _ = secured_broker
    for user, password in ((None, None), ("gw-a", "wrong"), ("nobody", "x")):
        session = Session(port, user, password)
        assert not session.connected.is_set(), (user, session.reason)
        session.close()


def test_a_gateway_is_confined_to_its_own_topics(secured_broker):
    """What a gateway publishes for another is dropped: the marker it publishes next on its own
    topic arrives, the forged message before it never does."""
    port, _, auth, _ = secured_broker
    backend = Session(port, "pw-backend", auth.credentials["pw-backend"])
    gw_a = Session(port, "gw-a", auth.credentials["gw-a"])
    assert backend.connected.is_set() and gw_a.connected.is_set()
    assert not refused(backend.subscribe(protocol.subscription("data")))
    for wildcard in ("#", "pw/v1/+/data", "pw/v1/gw-b/cmd", "pw/v1/gw-a/#", "$SYS/#"):
        assert refused(gw_a.subscribe(wildcard)), wildcard
    assert not refused(gw_a.subscribe(protocol.topic("gw-a", "cmd")))
    gw_a.publish(protocol.topic("gw-b", "data"), data("gw-b", 1))
    gw_a.publish(protocol.topic("gw-a", "data"), data("gw-a", 1))
    assert backend.wait_received(protocol.topic("gw-a", "data"))
    assert backend.received == [protocol.topic("gw-a", "data")]
    backend.publish(protocol.topic("gw-b", "cmd"), b"{}")
    backend.publish(protocol.topic("gw-a", "cmd"), b"{}")
    assert gw_a.wait_received(protocol.topic("gw-a", "cmd"))
    assert gw_a.received == [protocol.topic("gw-a", "cmd")]
    backend.close()
    gw_a.close()


def test_heartbeat_and_command_results_reach_the_backend_from_their_own_gateway_only(secured_broker):
    port, _, auth, _ = secured_broker
    backend = Session(port, "pw-backend", auth.credentials["pw-backend"])
    gw_a = Session(port, "gw-a", auth.credentials["gw-a"])
    for channel in ("heartbeat", "cmd-result", "state"):
        assert not refused(backend.subscribe(protocol.subscription(channel))), channel
    gw_a.publish(protocol.topic("gw-b", "heartbeat"), b"{}", qos=0)
    gw_a.publish(protocol.topic("gw-b", "cmd-result"), b"{}")
    gw_a.publish(protocol.topic("gw-a", "heartbeat"), b"{}", qos=0)
    gw_a.publish(protocol.topic("gw-a", "cmd-result"), b"{}")
    gw_a.publish(protocol.topic("gw-a", "state"), b"{}")  # the marker: last on the connection
    assert backend.wait_received(protocol.topic("gw-a", "state"))
    assert backend.received == [protocol.topic("gw-a", channel) for channel in ("heartbeat", "cmd-result", "state")]
    commands = Session(port, "pw-backend", auth.credentials["pw-backend"])  # as backend.adapters.mqtt_commands
    assert not refused(commands.subscribe(protocol.topic("gw-a", "cmd-result")))
    gw_a.publish(protocol.topic("gw-a", "cmd-result"), b"{}")
    assert commands.wait_received(protocol.topic("gw-a", "cmd-result"))
    for session in (backend, commands, gw_a):
        session.close()


def test_another_gateways_client_id_cannot_kick_a_gateway_off(secured_broker):
    port, tls_port, auth, tls = secured_broker
    backend = Session(port, "pw-backend", auth.credentials["pw-backend"])
    gw_a = Session(port, "gw-a", auth.credentials["gw-a"])
    assert gw_a.connected.is_set() and not refused(gw_a.subscribe(protocol.topic("gw-a", "cmd")))
    impostor = Session(port, "gw-b", auth.credentials["gw-b"], client_id="gw-a")
    assert not impostor.connected.is_set(), impostor.reason
    cert, key = tls.client_certs["gw-b"]  # over TLS the certificate's name becomes the client id
    impostor_tls = Session(tls_port, tls=(str(tls.ca_cert), str(cert), str(key)), client_id="gw-a")
    backend.publish(protocol.topic("gw-a", "cmd"), b"{}")
    assert gw_a.wait_received(protocol.topic("gw-a", "cmd"))  # still connected, still served
    assert not gw_a.dropped.is_set()
    for session in (backend, gw_a, impostor, impostor_tls):
        session.close()


def test_a_gateway_cannot_join_the_ingest_share_group(secured_broker):
    port, _, auth, _ = secured_broker
    shared = protocol.subscription("data", "pw-ingest")
    ingest = Session(port, "pw-backend", auth.credentials["pw-backend"])
    assert not refused(ingest.subscribe(shared))
    gw_b = Session(port, "gw-b", auth.credentials["gw-b"])
    assert refused(gw_b.subscribe(shared))
    assert refused(gw_b.subscribe("$share/other/pw/v1/+/data"))
    gw_a = Session(port, "gw-a", auth.credentials["gw-a"])
    for seq in range(1, 41):
        gw_a.publish(protocol.topic("gw-a", "data"), data("gw-a", seq))
    assert ingest.wait_received(protocol.topic("gw-a", "data"), count=40)  # all of them, none shared away
    assert gw_b.received == []
    for session in (ingest, gw_a, gw_b):
        session.close()


def test_nothing_published_on_another_gateways_topic_is_stored(secured_broker, tmp_path):
    port, _, auth, _ = secured_broker
    keys = {gw: Ed25519PrivateKey.generate() for gw in GATEWAYS}
    context = build_context(BackendSettings(
        data_dir=tmp_path / "data", roles=["ingest"], ingest={"client_id": "pw-ingest-acl"},
        broker={"port": port, "username": "pw-backend", "password": auth.credentials["pw-backend"]},
        gateways=[{"id": gw, "public_key_pem": public_key_pem(k.public_key()).decode()} for gw, k in keys.items()]))
    context.start()
    try:
        assert context.ingest.connected.wait(WAIT_S)
        gw_a = Session(port, "gw-a", auth.credentials["gw-a"])
        reading = [protocol.Reading("s-1", "weight", int(time.time() * 1000), {"weight_kg": 2.0})]
        forged = protocol.encode("gw-b", 1, 1, int(time.time() * 1000), reading, protocol.Signer(keys["gw-b"]))
        gw_a.publish(protocol.topic("gw-b", "data"), forged)  # even with gw-b's key: wrong account
        for seq in (1, 2):  # markers after it, on gw-a's own topic
            gw_a.publish(protocol.topic("gw-a", "data"), protocol.encode(
                "gw-a", 1, seq, int(time.time() * 1000), reading, protocol.Signer(keys["gw-a"])))
        assert wait_for(lambda: context.readings.count() >= 2, WAIT_S)
        assert [r.gateway for r in context.readings.query(ReadingQuery())] == ["gw-a", "gw-a"]
        gw_a.close()
    finally:
        context.close()


def test_tls_client_certificates_name_the_gateway(secured_broker):
    port, tls_port, auth, tls = secured_broker
    backend = Session(port, "pw-backend", auth.credentials["pw-backend"])
    backend.subscribe(protocol.subscription("data"))
    cert, key = tls.client_certs["gw-a"]
    gw_a = Session(tls_port, tls=(str(tls.ca_cert), str(cert), str(key)), client_id="anything")
    assert gw_a.connected.is_set(), gw_a.reason
    gw_a.publish(protocol.topic("gw-b", "data"), data("gw-b", 1))
    gw_a.publish(protocol.topic("gw-a", "data"), data("gw-a", 1))
    assert backend.wait_received(protocol.topic("gw-a", "data"))
    assert backend.received == [protocol.topic("gw-a", "data")]
    no_cert = Session(tls_port, tls=(str(tls.ca_cert), None, None))
    assert not no_cert.connected.is_set()
    for session in (backend, gw_a, no_cert):
        session.close()


def test_the_command_writes_the_files_from_the_backend_config(tmp_path):
    config = tmp_path / "backend.yaml"
    config.write_text("gateways: [{id: gw-a}, {id: gw-b}]\n")
    run = lambda: subprocess.run([sys.executable, "-m", "backend.cli", "mqtt-acl", "--config", str(config),  # noqa: E731
                                  "--out", str(tmp_path / "out"), "--tls-host", "127.0.0.1"],
                                 capture_output=True, text=True, timeout=60)
    first = run()
    assert first.returncode == 0, first.stderr
    credentials = (tmp_path / "out" / "mqtt-credentials.json").read_text()
    assert (tmp_path / "out" / "mqtt-credentials.json").stat().st_mode & 0o077 == 0
    assert run().returncode == 0
    assert (tmp_path / "out" / "mqtt-credentials.json").read_text() == credentials  # kept
    dynsec = json.loads((tmp_path / "out" / "dynamic-security.json").read_text())
    assert {"username": "gw-a", "clientid": "gw-a"}.items() <= next(
        c for c in dynsec["clients"] if c["username"] == "gw-a").items()
    assert {"acltype": "publishClientSend", "topic": "pw/v1/gw-a/heartbeat", "allow": True} in next(
        r for r in dynsec["roles"] if r["rolename"] == "gateway-gw-a")["acls"]
    assert (tmp_path / "out" / "dynamic-security.json").stat().st_mode & 0o077 == 0
    assert (tmp_path / "out" / "tls" / "client-gw-b.crt").exists()
    for secret in json.loads(credentials).values():
        assert secret not in first.stdout + first.stderr


def test_a_gateway_agent_over_tls_reaches_the_backend_and_only_as_itself(secured_broker, tmp_path):
    """The real edge agent with its client certificate, the real ingest with its password: data
    in, acks back, and a signed command out with its signed result back (cmd and cmd-result)."""
    import asyncio

    from backend.adapters.mqtt_commands import MqttCommands
    from backend.services.commands import build_command, read_result
    from edge.agent import EdgeAgent
    from edge.config import EdgeSettings
    from edge.protocol.broker import BrokerSettings
    from edge.protocol.keys import load_public_key, new_key_pair

    port, tls_port, auth, tls = secured_broker
    private_path, public_path = new_key_pair(tmp_path / "keys", "gw-a")
    command_key = Ed25519PrivateKey.generate()
    backend_broker = {"port": port, "username": "pw-backend", "password": auth.credentials["pw-backend"]}
    context = build_context(BackendSettings(
        data_dir=tmp_path / "data", roles=["ingest"], ingest={"client_id": "pw-ingest-tls"}, broker=backend_broker,
        gateways=[{"id": "gw-a", "public_key_pem": public_path.read_text()}]))
    context.start()
    cert, key = tls.client_certs["gw-a"]
    agent = EdgeAgent(EdgeSettings(
        gateway_id="gw-a", state_dir=tmp_path / "edge", key_file=private_path, clock_source="synced",
        broker={"port": tls_port, "tls": {"ca_file": str(tls.ca_cert), "cert_file": str(cert), "key_file": str(key)}},
        batch={"max_readings": 10, "max_delay_s": 0.2},
        commands={"backend_public_key_pem": public_key_pem(command_key.public_key()).decode()},
        drivers=[{"driver": "sim_lot", "every_s": 0.1,
                  "config": {"lot": "lot-a", "items": 3, "item_weight_kg": 100, "epc_prefix": "AA"}}]))
    command, wire = build_command("gw-a", "set_interval", {"driver_index": 0, "every_s": 0.2},
                                  protocol.Signer(command_key), time.time(), 60)

    async def run_until_acked_then_command() -> bytes | None:
        task = asyncio.create_task(agent.run())
        deadline = time.monotonic() + WAIT_S
        while (context.readings.count() < 10 or agent.outbox.depth()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        commands = MqttCommands(BrokerSettings(**backend_broker))
        result = await asyncio.to_thread(commands.send, "gw-a", command.id, wire, WAIT_S)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return result

    try:
        assert context.ingest.connected.wait(WAIT_S)
        result = asyncio.run(run_until_acked_then_command())
        assert context.readings.count() >= 10  # signed, over TLS, acknowledged back through the ACL
        assert {r.gateway for r in context.readings.query(ReadingQuery())} == {"gw-a"}
        assert result is not None  # the gateway may write cmd-result, the backend may read it
        outcome = read_result(result, command, [load_public_key(public_path.read_text())])
        assert (outcome.result.status, outcome.verified) == ("ok", True)
        assert agent.sample_every_s == [0.2]
    finally:
        context.close()
