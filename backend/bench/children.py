"""The bench's child processes: a publisher of the recorded stream and a bare counter.

    python -m backend.bench.children publish STREAM PORT OUT
    python -m backend.bench.children count PORT MESSAGES OUT

Each writes one JSON object to OUT when done; `count` prints "ready" once subscribed.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt

from edge import protocol

COUNTER_CLIENT_ID = "pw-bench-counter"


def _client(client_id: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)  # unbounded: the whole stream is handed over at once
    return client


def publish(stream_path: Path, port: int, out_path: Path) -> None:
    """QoS 1, as fast as the broker takes it; records when each message was handed over."""
    stream = orjson.loads(stream_path.read_bytes())
    client = _client(f"pw-bench-pub-{time.time_ns()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    published_at_s, infos = [], []
    for topic, payload in stream:
        published_at_s.append(time.time())
        infos.append(client.publish(topic, payload.encode(), qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
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


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "publish":
        publish(Path(args[0]), int(args[1]), Path(args[2]))
    else:
        count(int(args[0]), int(args[1]), Path(args[2]))
