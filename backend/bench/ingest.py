"""`pledgewatch bench ingest`: the full ingest path against the broker's delivery ceiling.

One recorded stream of signed 50-reading batches (made once, before any timing) is
published at QoS 1 through a real Mosquitto, in interleaved rounds, to
  (a) a bare paho subscriber that only counts (what the broker can deliver), and
  (b) real `pledgewatch backend --role ingest` processes on a shared subscription
      (decode, verify, dedup, durable SQLite write, PUBACK and app-level ack).
With `broker="nats"` the same goes through a three-node NATS cluster: published over MQTT
3.1.1 to the nodes' MQTT listeners (several connections, gateways spread over the nodes),
captured by the R3 JetStream stream, and (a) a bare pull consumer that fetches, acks and
counts, (b) ingest processes on the one durable pull consumer.
Everything runs on this machine at once: broker, publisher, subscribers. Rates run from
the first publish to the last delivery (a) or the last durable write (b). The ingest
lag is from a message's publish to its durable write, under that full-speed burst.
"""
from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nats
import orjson
import paho.mqtt.client as paho
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.adapters.jetstream_ingest import stream_config
from backend.demo.broker import BrokerProcess, start_broker
from backend.demo.nats_cluster import NatsCluster
from backend.demo.ports import free_port
from backend.settings import JetStreamSettings
from edge import protocol
from firmware_sim.fleet import fleet_readings

READINGS_PER_MESSAGE = 50
_CHILDREN = [sys.executable, "-m", "backend.bench.children"]


class BenchError(RuntimeError):
    pass


def record_stream(folder: Path, messages: int, gateways: int, epoch: int = 1) -> tuple[Path, list[dict], dict]:
    """Sign `messages` batches round-robin over `gateways` in `epoch`; returns the file
    (folder/stream.json), the gateway registry entries and each message's (gateway, epoch,
    seq) -> position."""
    rng, now_ms = random.Random(7), int(time.time() * 1000)
    keys = {f"bench-gw-{n}": Ed25519PrivateKey.generate() for n in range(gateways)}
    signers = {gw: protocol.Signer(key) for gw, key in keys.items()}
    names = list(keys)
    stream, positions = [], {}
    for position in range(messages):
        gw_index = position % gateways
        gw, seq = names[gw_index], position // gateways + 1
        readings = fleet_readings(gw_index, READINGS_PER_MESSAGE, READINGS_PER_MESSAGE, now_ms, rng)
        payload = protocol.encode(gw, epoch, seq, now_ms, readings, signers[gw])
        stream.append((protocol.topic(gw, "data"), payload.decode()))
        positions[(gw, epoch, seq)] = position
    path = folder / "stream.json"
    path.write_bytes(orjson.dumps(stream))
    registry = [{"id": gw, "public_key_pem": key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()}
        for gw, key in keys.items()]
    return path, registry, positions


Broker = BrokerProcess | NatsCluster
NATS_PUBLISH_CONNECTIONS = 8  # per node: on nats-server 2.9 a QoS 1 publish waits for a JetStream write


def _publish(stream_path: Path, broker: Broker, folder: Path) -> list[float]:
    out = folder / "published.json"
    if isinstance(broker, NatsCluster):
        ports = ",".join(str(node.mqtt_port) for node in broker.nodes)
        args = [ports, str(out), "4", str(NATS_PUBLISH_CONNECTIONS * len(broker.nodes))]
    else:
        args = [str(broker.port), str(out)]
    subprocess.run([*_CHILDREN, "publish", str(stream_path), *args], check=True)
    return orjson.loads(out.read_bytes())["published_at_s"]


def ceiling_round(stream_path: Path, messages: int, broker: Broker, folder: Path) -> float:
    """Readings per second delivered to a subscriber (or pull consumer) that only counts."""
    out = folder / "counted.json"
    counter_args = (["count-jetstream", ",".join(broker.nats_urls)] if isinstance(broker, NatsCluster)
                    else ["count", str(broker.port)])
    counter = subprocess.Popen([*_CHILDREN, *counter_args, str(messages), str(out)],
                               stdout=subprocess.PIPE, text=True)
    if counter.stdout.readline().strip() != "ready":
        raise BenchError("the counting subscriber did not subscribe")
    published_at_s = _publish(stream_path, broker, folder)
    if counter.wait(timeout=600) != 0:
        raise BenchError("the counting subscriber failed")
    counted = orjson.loads(out.read_bytes())
    return messages * READINGS_PER_MESSAGE / (counted["last_s"] - published_at_s[0])


def start_ingest_process(folder: Path, broker: Broker, registry: list[dict], index: int,
                         http_port: int | None = None, extra: dict | None = None,
                         tree: Path | None = None) -> subprocess.Popen:
    """`pledgewatch backend --role ingest` as client pw-bench-ingest-<index>, data in folder/data;
    returns once it is connected (its log: folder/ingest-<index>.log). On a NatsCluster it
    consumes the JetStream stream. `extra`: more settings (e.g. a timeseries block). `tree`:
    run the backend of that checkout instead of this one (another version, to compare with)."""
    config = folder / f"ingest-{index}.yaml"
    ingest: dict = {"client_id": f"pw-bench-ingest-{index}"}
    if isinstance(broker, NatsCluster):
        broker_block: dict = {"urls": broker.mqtt_urls, "protocol": 4}
        ingest.update(source="jetstream", jetstream={"servers": broker.nats_urls})
    else:
        broker_block = {"port": broker.port}
    config.write_text(yaml.safe_dump({
        "data_dir": str(folder / "data"), "broker": broker_block,
        "http": {"port": http_port or free_port()}, "ingest": ingest,
        "gateways": registry, **(extra or {})}))
    log = folder / f"ingest-{index}.log"
    log.touch()
    connected_before = log.read_bytes().count(b"ingest connected")  # a restart appends
    with log.open("ab") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "backend.cli", "backend", "--config", str(config),
                                    "--role", "ingest"], stdout=log_file, stderr=subprocess.STDOUT,
                                   **checkout(tree))
    deadline = time.monotonic() + 60
    while log.read_bytes().count(b"ingest connected") <= connected_before:
        if process.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"ingest process {index} did not connect; see {log}")
        time.sleep(0.05)
    return process


def checkout(tree: Path | None) -> dict:
    """Popen arguments that make `python -m backend...` import the backend of `tree` (a checkout
    of another version) rather than this one; none for this one."""
    if tree is None:
        return {}
    return {"cwd": tree, "env": {**os.environ, "PYTHONPATH": str(tree)}}


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU a process has used so far (Linux: /proc), None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


@dataclass(frozen=True)
class IngestRound:
    readings_per_s: float
    lags_ms: list[float]
    lost: int
    duplicates_stored: int
    # CPU the ingest processes used from connected to the last message recorded (start-up not
    # counted): what other processes on a shared machine disturb far less than the rate
    cpu_s: float | None = None


def ingest_round(stream_path: Path, registry: list[dict], positions: dict, broker: Broker,
                 folder: Path, processes: int, extra: dict | None = None, tree: Path | None = None) -> IngestRound:
    """`extra`: more settings for the ingest processes (e.g. the evidence log off); `tree`: the
    checkout whose backend they run (default this one)."""
    ingests = [start_ingest_process(folder, broker, registry, n, extra=extra, tree=tree) for n in range(processes)]
    try:
        time.sleep(0.5)  # let the SUBACKs land: a shared subscription queues nothing before
        cpu_before = [cpu_seconds(process.pid) for process in ingests]
        published_at_s = _publish(stream_path, broker, folder)
        recorded = wait_for_ledger(folder / "data" / "state.sqlite", len(positions))
        cpu_after = [cpu_seconds(process.pid) for process in ingests]
    finally:
        for process in ingests:
            process.terminate()
        for process in ingests:
            process.wait(timeout=30)
    if isinstance(broker, NatsCluster):  # a work-queue stream takes one consumer at a time
        _delete_consumer(broker, JetStreamSettings().durable)
    last_write_s = max(at_ms for _, at_ms in recorded) / 1000
    lags_ms = [at_ms - published_at_s[positions[key]] * 1000 for key, at_ms in recorded]
    lost, duplicates = audit(folder / "data" / "readings.sqlite", len(positions))
    used = [after - before for before, after in zip(cpu_before, cpu_after) if before is not None and after is not None]
    return IngestRound(len(positions) * READINGS_PER_MESSAGE / (last_write_s - published_at_s[0]),
                       lags_ms, lost, duplicates, sum(used) if len(used) == len(ingests) else None)


def _delete_consumer(cluster: NatsCluster, name: str) -> None:
    async def delete() -> None:
        connection = await nats.connect(cluster.nats_urls)
        await connection.jetstream(timeout=10).delete_consumer(JetStreamSettings().stream, name)
        await connection.close()

    asyncio.run(delete())


def _start_broker(root: Path, broker: str) -> Broker:
    if broker == "nats":
        cluster = NatsCluster(root / "nats").start()
        _make_stream(cluster)
        _first_mqtt_connections(cluster)
        return cluster
    process = start_broker(root / "broker", prefer="mosquitto")
    if process.kind != "mosquitto":
        process.stop()
        raise BenchError("the bench needs Mosquitto (apt-get install mosquitto)")
    return process


def _make_stream(cluster: NatsCluster) -> None:
    """The stream ingest makes when missing: the counter of the first round needs it first."""
    async def make() -> None:
        connection = await nats.connect(cluster.nats_urls)
        await connection.jetstream(timeout=10).add_stream(stream_config(JetStreamSettings()))
        await connection.close()

    asyncio.run(make())


def _first_mqtt_connections(cluster: NatsCluster) -> None:
    """A node's first MQTT connection makes the MQTT streams and consumers (seconds): not in
    the first round's time."""
    for node in cluster.nodes:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"pw-bench-warm-{node.name}",
                             protocol=paho.MQTTv311)
        client.connect("127.0.0.1", node.mqtt_port)
        client.loop_start()
        client.publish("pw-bench/warm-up", b"", qos=1).wait_for_publish(timeout=60)
        client.disconnect()
        client.loop_stop()


def wait_for_ledger(path: Path, messages: int, timeout_s: float = 300) -> list[tuple[tuple, int]]:
    deadline = time.monotonic() + timeout_s
    with sqlite3.connect(path) as db:
        while db.execute("SELECT count(*) FROM messages").fetchone()[0] < messages:
            if time.monotonic() > deadline:
                break  # what is missing shows as lost
            time.sleep(0.05)
        return [((g, e, s), at_ms) for g, e, s, at_ms in db.execute(
            "SELECT gateway, epoch, seq, recorded_at_ms FROM messages")]


def audit(path: Path, messages: int, readings_per_message: int = READINGS_PER_MESSAGE) -> tuple[int, int]:
    """(readings lost, readings stored more than once)."""
    with sqlite3.connect(path) as db:
        stored = db.execute("SELECT count(*) FROM readings").fetchone()[0]
        distinct = db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT gateway, epoch, seq, idx FROM readings)").fetchone()[0]
    return messages * readings_per_message - distinct, stored - distinct


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_bench(messages: int, rounds: int, processes: int, gateways: int = 100, broker_kind: str = "mosquitto",
              progress: Callable[[str], None] = lambda line: None) -> dict:
    """`progress` hears a line per step (the CLI prints them on stderr: a run takes minutes).
    `broker_kind`: mosquitto, or nats (a three-node JetStream cluster)."""
    with tempfile.TemporaryDirectory(prefix="pw-bench-") as tmp:
        root = Path(tmp)
        progress(f"recording {messages:,} signed batches over {gateways} gateways ...")
        stream_path, registry, positions = record_stream(root, messages, gateways)
        broker = _start_broker(root, broker_kind)
        try:
            ceilings, ingests = [], []
            for n in range(rounds):  # interleaved, so that both see the same machine
                folder = root / f"round-{n}"
                folder.mkdir()
                ceilings.append(ceiling_round(stream_path, messages, broker, folder))
                progress(f"round {n + 1}/{rounds}: broker ceiling {ceilings[-1]:,.0f} readings/s")
                ingests.append(ingest_round(stream_path, registry, positions, broker, folder, processes))
                progress(f"round {n + 1}/{rounds}: ingest ({processes} process(es)) "
                         f"{ingests[-1].readings_per_s:,.0f} readings/s")
        finally:
            broker.stop()
    lags = [lag for r in ingests for lag in r.lags_ms]
    ceiling = statistics.median(ceilings)
    ingest = statistics.median(r.readings_per_s for r in ingests)
    return {"messages": messages, "readings_per_message": READINGS_PER_MESSAGE,
            "ceiling_readings_per_s": round(ceiling), "ingest_readings_per_s": round(ingest),
            "ratio": round(statistics.median(r.readings_per_s / c for r, c in zip(ingests, ceilings)), 3),
            "lost": sum(r.lost for r in ingests), "duplicates_stored": sum(r.duplicates_stored for r in ingests),
            "p50_ingest_lag_ms": round(_percentile(lags, 0.5), 1),
            "p99_ingest_lag_ms": round(_percentile(lags, 0.99), 1),
            "rounds": rounds, "ingest_processes": processes, "broker": broker_kind}
