"""The broker tier on a real three-node NATS cluster (JetStream R3, MQTT listeners):

- edge agents in MQTT 3.1.1 mode with the three nodes as their broker list -> JetStream ->
  the JetStream ingest -> the store: every reading stored once, every batch acknowledged
  back to its gateway through whichever node it is on;
- kill -9 the node that leads the stream, mid-stream, then restart it: the gateways on it
  fail over, lost 0, stored twice 0, and the time to recover is printed;
- two `pledgewatch backend --role ingest` processes on the one durable consumer: each
  message stored once, both take a share.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import urllib.request

import httpx
import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.bench.ingest import audit, start_ingest_process, wait_for_ledger
from backend.bootstrap import build_context
from backend.demo.ports import DistinctPorts
from backend.ports.ingest import ReadingQuery
from backend.settings import BackendSettings
from edge import protocol
from edge.agent import EdgeAgent
from edge.config import EdgeSettings
from edge.protocol.keys import new_key_pair
from tests.integration.edge.rig import until
from tests.integration.ingest.helpers import public_pem

pytestmark = pytest.mark.e2e

GATEWAYS = ["gw-n1", "gw-n2", "gw-n3"]
READINGS = 1200  # per gateway, 100 a second, 10 a batch


def rotated(urls: list[str], start: int) -> list[str]:
    """Gateway n starts on node n, then tries the others."""
    return urls[start:] + urls[:start]


def agent(tmp_path, cluster, gateway: str, index: int, key_file) -> EdgeAgent:
    return EdgeAgent(EdgeSettings(
        gateway_id=gateway, broker={"urls": rotated(cluster.mqtt_urls, index), "protocol": 4, "subscribe_qos": 0},
        state_dir=tmp_path / gateway, key_file=key_file, clock_source="synced",
        reconnect_min_s=0.1, reconnect_max_s=0.5, batch={"max_readings": 10, "max_delay_s": 0.05},
        uplink={"ack_timeout_s": 2.0},
        drivers=[{"driver": "test_sequence", "every_s": 0.05,
                  "config": {"first": 0, "total": READINGS, "per_read": 5}}]))


def jetstream_backend(tmp_path, cluster, keys: dict[str, str]):
    return build_context(BackendSettings(
        roles=["ingest"], data_dir=tmp_path / "data",
        broker={"urls": cluster.mqtt_urls, "protocol": 4},
        ingest={"client_id": "pw-ingest-nats", "source": "jetstream",
                "jetstream": {"servers": cluster.nats_urls}},
        gateways=[{"id": gw, "public_key_pem": pem} for gw, pem in keys.items()]))


def weights(context, gateway: str) -> list[float]:
    rows = context.readings.query(ReadingQuery(gateway=gateway, limit=100_000))
    return sorted(r.values["weight_kg"] for r in rows)


def stored_twice(context) -> int:
    with sqlite3.connect(context.settings.data_dir / "readings.sqlite") as db:
        total = db.execute("SELECT count(*) FROM readings").fetchone()[0]
        distinct = db.execute("SELECT count(*) FROM (SELECT DISTINCT gateway, epoch, seq, idx FROM readings)"
                              ).fetchone()[0]
    return total - distinct


def stream_leader(cluster, stream: str = "PW_INGEST") -> int:
    """Index of the node that leads `stream` (asked of any live node)."""
    for node in cluster.nodes:
        if not node.healthy():
            continue
        url = f"http://127.0.0.1:{node.monitor_port}/jsz?accounts=true&streams=true"
        with urllib.request.urlopen(url, timeout=2) as answer:
            report = json.load(answer)
        for account in report.get("account_details", []):
            for detail in account.get("stream_detail", []):
                if detail["name"] == stream and detail.get("cluster", {}).get("leader"):
                    return [n.name for n in cluster.nodes].index(detail["cluster"]["leader"])
    raise AssertionError(f"no leader for {stream}")


@pytest.fixture
def fleet(tmp_path, nats_cluster):
    """(backend context, agents) for GATEWAYS on the cluster; the backend's ingest started."""
    keys = {gw: new_key_pair(tmp_path / "keys", gw) for gw in GATEWAYS}
    context = jetstream_backend(tmp_path, nats_cluster, {gw: pub.read_text() for gw, (_, pub) in keys.items()})
    context.ingest.start()
    assert context.ingest.connected.wait(30)
    agents = [agent(tmp_path, nats_cluster, gw, n, keys[gw][0]) for n, gw in enumerate(GATEWAYS)]
    yield context, agents
    context.close()


async def run_agents(agents, scenario):
    tasks = [asyncio.create_task(a.run()) for a in agents]
    try:
        return await scenario()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def all_stored_and_acked(context, agents) -> bool:
    return (context.readings.count() >= READINGS * len(agents)
            and all(a.outbox.depth() == 0 for a in agents))


def assert_each_reading_stored_once(context, agents) -> None:
    for gw in GATEWAYS:
        assert weights(context, gw) == [float(n) for n in range(READINGS)], gw  # none lost, none twice
    assert stored_twice(context) == 0
    assert context.metrics.registry.get_sample_value("pw_readings_stored_total") == READINGS * len(agents)
    assert all(status.missing_seqs == 0 for status in context.ledger.gateways())


def test_edge_agents_in_mqtt_311_mode_reach_the_store_through_jetstream_once(fleet):
    context, agents = fleet

    async def scenario():
        await until(lambda: all_stored_and_acked(context, agents), 45,
                    lambda: f"stored {context.readings.count()}, outboxes {[a.outbox.depth() for a in agents]}")

    asyncio.run(run_agents(agents, scenario))
    assert_each_reading_stored_once(context, agents)  # acked (outboxes empty) through every node


def test_kill_9_of_the_stream_leader_mid_stream_loses_nothing_and_stores_nothing_twice(fleet, nats_cluster):
    context, agents = fleet
    produced = lambda a: int(a.metrics.registry.get_sample_value("pw_edge_readings_total") or 0)  # noqa: E731

    async def scenario():
        await until(lambda: context.readings.count() >= 300, 20)
        victim = stream_leader(nats_cluster)
        made_before = {a.settings.gateway_id: produced(a) for a in agents}
        killed_at = time.monotonic()
        nats_cluster.kill(victim)
        # Recovered: for every gateway, a reading made after the kill is stored.
        await until(lambda: all(weights(context, gw) and weights(context, gw)[-1] >= made_before[gw]
                                for gw in GATEWAYS), 30, lambda: f"stored {context.readings.count()}")
        recovery_s = time.monotonic() - killed_at
        assert agents[victim].uplink.connected  # the gateway that was on the dead node moved to another
        await asyncio.to_thread(nats_cluster.restart, victim)
        await until(lambda: all_stored_and_acked(context, agents), 45,
                    lambda: f"stored {context.readings.count()}, outboxes {[a.outbox.depth() for a in agents]}")
        return victim, recovery_s

    victim, recovery_s = asyncio.run(run_agents(agents, scenario))
    assert_each_reading_stored_once(context, agents)
    print(f"\nNATS node {nats_cluster.nodes[victim].name} (stream leader) killed -9 mid-stream: "
          f"recovered in {recovery_s:.2f} s (every gateway's post-kill readings stored); "
          f"lost 0, stored twice 0")


def signed_stream(keys: dict[str, Ed25519PrivateKey], last_seq: int) -> list[tuple[str, bytes]]:
    now_ms = int(time.time() * 1000)
    return [(protocol.topic(gw, "data"), protocol.encode(
        gw, 1, seq, now_ms, [protocol.Reading(f"{gw}-s{n}", "weight", now_ms, {"weight_kg": float(n)})
                             for n in range(10)], protocol.Signer(key)))
            for seq in range(1, last_seq + 1) for gw, key in keys.items()]


def publish_spread(cluster, messages: list[tuple[str, bytes]]) -> None:
    """QoS 1 over MQTT 3.1.1, one connection per gateway, gateways spread over the nodes."""
    clients: dict[str, mqtt.Client] = {}
    infos = []
    for topic, payload in messages:
        gw = protocol.parse_topic(topic)[0]
        if gw not in clients:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=gw, protocol=mqtt.MQTTv311)
            client.max_inflight_messages_set(100)
            node = cluster.nodes[len(clients) % len(cluster.nodes)]
            client.connect("127.0.0.1", node.mqtt_port)
            client.loop_start()
            clients[gw] = client
        infos.append(clients[gw].publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=60)
    for client in clients.values():
        client.disconnect()
        client.loop_stop()


def test_two_ingest_processes_share_the_durable_consumer_and_store_each_message_once(tmp_path, nats_cluster):
    keys = {f"gw-p{n}": Ed25519PrivateKey.generate() for n in range(6)}
    registry = [{"id": gw, "public_key_pem": public_pem(key)} for gw, key in keys.items()]
    with DistinctPorts() as pick:
        ports = [pick(), pick()]
    processes = [start_ingest_process(tmp_path, nats_cluster, registry, n, ports[n]) for n in range(2)]
    try:
        publish_spread(nats_cluster, signed_stream(keys, 200))
        assert len(wait_for_ledger(tmp_path / "data" / "state.sqlite", 1200, timeout_s=60)) == 1200
        metrics = [httpx.get(f"http://127.0.0.1:{port}/metrics").text for port in ports]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
    assert audit(tmp_path / "data" / "readings.sqlite", 1200, 10) == (0, 0)
    per_process = [float(line.split()[-1]) for text in metrics for line in text.splitlines()
                   if line.startswith("pw_messages_stored_total")]
    assert sum(per_process) == 1200 and min(per_process) > 0  # both took a share
