"""The bench's child processes: a publisher of the recorded stream and bare counters.

    python -m backend.bench.children publish STREAM PORT[,PORT...] OUT [PROTOCOL CONNECTIONS]
    python -m backend.bench.children count PORT MESSAGES OUT
    python -m backend.bench.children count-jetstream SERVER[,SERVER...] MESSAGES OUT

Each writes one JSON object to OUT when done; the counters print "ready" once subscribed.
"""
from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt

from edge import protocol

COUNTER_CLIENT_ID = "pw-bench-counter"
JETSTREAM_STREAM = "PW_INGEST"  # what `ingest.jetstream.stream` defaults to


def _client(client_id: str, version: int = 5) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)  # unbounded: the whole stream is handed over at once
    return client


def publish(stream_path: Path, ports: list[int], out_path: Path, version: int = 5, connections: int = 1) -> None:
    """QoS 1, as fast as the broker takes it; records when each message was handed over.
    With several connections (spread over `ports`), each gateway's messages go through one."""
    stream = orjson.loads(stream_path.read_bytes())
    clients = [_client(f"pw-bench-pub-{n}-{time.time_ns()}", version) for n in range(connections)]
    for n, client in enumerate(clients):
        client.connect("127.0.0.1", ports[n % len(ports)])
        client.loop_start()
    gateways: dict[str, mqtt.Client] = {}
    published_at_s, infos = [], []
    for topic, payload in stream:
        client = gateways.setdefault(topic, clients[len(gateways) % connections])
        published_at_s.append(time.time())
        infos.append(client.publish(topic, payload.encode(), qos=1))
    for info in infos:
        info.wait_for_publish(timeout=300)
    for client in clients:
        client.disconnect()
        client.loop_stop()
    out_path.write_bytes(orjson.dumps({"published_at_s": published_at_s}))


def count(port: int, messages: int, out_path: Path) -> None:
    """Subscribe like ingest does (QoS 1) and only count: the delivery ceiling."""
    done, subscribed = threading.Event(), threading.Event()
    received_at_s: list[float] = []

    def on_message(client, userdata, message) -> None:
        received_at_s.append(time.time())
        if len(received_at_s) >= messages:
            done.set()

    client = _client(COUNTER_CLIENT_ID)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_connect = lambda c, *args: c.subscribe(protocol.subscription("data"), qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    subscribed.wait(30)
    print("ready", flush=True)
    done.wait(600)
    client.disconnect()
    client.loop_stop()
    out_path.write_bytes(orjson.dumps({"first_s": received_at_s[0], "last_s": received_at_s[-1],
                                       "count": len(received_at_s)}))


def count_jetstream(servers: list[str], messages: int, out_path: Path) -> None:
    """Fetch and acknowledge from a durable pull consumer of the stream, as ingest does, and
    only count: what the cluster can deliver. The consumer is deleted after."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig

    async def run() -> list[float]:
        connection = await nats.connect(servers)
        js = connection.jetstream(timeout=10)
        await js.add_consumer(JETSTREAM_STREAM, ConsumerConfig(
            durable_name=COUNTER_CLIENT_ID, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=50_000))
        subscription = await js.pull_subscribe_bind(COUNTER_CLIENT_ID, JETSTREAM_STREAM)
        print("ready", flush=True)
        received_at_s: list[float] = []
        deadline = time.monotonic() + 600
        while len(received_at_s) < messages and time.monotonic() < deadline:
            try:
                batch = await subscription.fetch(1000, timeout=0.5)
            except (asyncio.TimeoutError, nats.errors.TimeoutError):
                continue
            for message in batch:
                await message.ack()
            now = time.time()
            received_at_s.extend(now for _ in batch)
        await connection.flush()
        await js.delete_consumer(JETSTREAM_STREAM, COUNTER_CLIENT_ID)
        await connection.close()
        return received_at_s

    received_at_s = asyncio.run(run())
    out_path.write_bytes(orjson.dumps({"first_s": received_at_s[0], "last_s": received_at_s[-1],
                                       "count": len(received_at_s)}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "publish":
        publish(Path(args[0]), [int(port) for port in args[1].split(",")], Path(args[2]),
                *(int(arg) for arg in args[3:5]))
    elif command == "count-jetstream":
        count_jetstream(args[0].split(","), int(args[1]), Path(args[2]))
    else:
        count(int(args[0]), int(args[1]), Path(args[2]))
