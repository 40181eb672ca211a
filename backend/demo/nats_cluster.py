"""A NATS cluster on this machine for the tests, the bench and the demo: N `nats-server`
nodes on 127.0.0.1, each with its own ports (clients, routes, monitoring, MQTT) and its own
JetStream store, routed to each other. The production layout is deploy/nats/ (docs/deploy.md).

Readiness is the monitoring port: /healthz answers 200 once the node's JetStream is up and
the streams it holds are current (after a restart: caught up), and /jsz names the meta leader.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from backend.demo.ports import DistinctPorts

NATS_CANDIDATES = ("nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server")
CLUSTER_NAME = "pw-nats"

NODE_CONFIG = """\
server_name: {name}
listen: 127.0.0.1:{client_port}
http: 127.0.0.1:{monitor_port}
jetstream {{
  store_dir: "{store_dir}"
  max_memory_store: 256MB
  max_file_store: 4GB
}}
cluster {{
  name: {cluster}
  listen: 127.0.0.1:{route_port}
  routes: [{routes}]
}}
mqtt {{
  listen: 127.0.0.1:{mqtt_port}
  # sessions, retained messages and QoS 1 deliveries: JetStream streams, replicated like ours
  stream_replicas: {replicas}
  # a subscription's consumer lives as long as a gateway's clean session: one replica, in
  # memory, no consensus group to elect when a node dies
  consumer_replicas: 1
  consumer_memory_storage: true
}}
"""


class NatsError(RuntimeError):
    pass


def find_nats_server() -> str | None:
    for candidate in NATS_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass
class NatsNode:
    name: str
    client_port: int
    route_port: int
    monitor_port: int
    mqtt_port: int
    folder: Path
    process: subprocess.Popen | None = None

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    def healthy(self) -> bool:
        """Healthy, and it knows the JetStream meta leader (stream requests go through it)."""
        try:
            base = f"http://127.0.0.1:{self.monitor_port}"
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
                if answer.status != 200:
                    return False
            with urllib.request.urlopen(f"{base}/jsz", timeout=1) as answer:
                return bool(json.load(answer).get("meta_cluster", {}).get("leader"))
        except (urllib.error.URLError, OSError, ValueError):
            return False


@dataclass
class NatsCluster:
    """`size` nodes under `root` (node-1 ...); start() returns once every node is healthy."""

    root: Path
    size: int = 3
    binary: str | None = None
    authorization: str = ""
    preexec_fn: Callable[[], None] | None = None  # run in each node's process before exec  # an `authorization { users: ... }` block (adapters/nats_auth.py); none: open
    nodes: list[NatsNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.binary = self.binary or find_nats_server()
        if self.binary is None:
            raise NatsError("nats-server is not installed (apt-get install nats-server)")
        with DistinctPorts() as pick:
            self.nodes = [NatsNode(f"pw-nats-{n}", pick(), pick(), pick(), pick(), self.root / f"node-{n}")
                          for n in range(1, self.size + 1)]
        routes = ", ".join(f"nats-route://127.0.0.1:{node.route_port}" for node in self.nodes)
        for node in self.nodes:
            node.folder.mkdir(parents=True, exist_ok=True)
            (node.folder / "nats.conf").write_text(NODE_CONFIG.format(
                name=node.name, client_port=node.client_port, monitor_port=node.monitor_port,
                store_dir=(node.folder / "jetstream").resolve(), cluster=CLUSTER_NAME,
                route_port=node.route_port, routes=routes, mqtt_port=node.mqtt_port,
                replicas=min(3, self.size)) + self.authorization)
            (node.folder / "nats.conf").chmod(0o600)  # it may hold passwords

    @property
    def nats_urls(self) -> list[str]:
        return [node.nats_url for node in self.nodes]

    @property
    def mqtt_urls(self) -> list[str]:
        return [node.mqtt_url for node in self.nodes]

    def start(self, timeout_s: float = 60) -> "NatsCluster":
        for index in range(self.size):
            self._launch(index)
        self.wait_healthy(range(self.size), timeout_s)
        return self

    def _launch(self, index: int) -> None:
        node = self.nodes[index]
        with open(node.folder / "nats.log", "ab") as log:
            node.process = subprocess.Popen([self.binary, "-c", str(node.folder / "nats.conf")],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            preexec_fn=self.preexec_fn)

    def wait_healthy(self, indexes, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        for index in indexes:
            node = self.nodes[index]
            while not node.healthy():
                if node.process is None or node.process.poll() is not None:
                    raise NatsError(f"{node.name} exited; see {node.folder / 'nats.log'}")
                if time.monotonic() > deadline:
                    raise NatsError(f"{node.name} not healthy after {timeout_s:.0f}s; see {node.folder}")
                time.sleep(0.05)

    def kill(self, index: int) -> None:
        """SIGKILL one node: no goodbye to clients or peers, JetStream not flushed."""
        process = self.nodes[index].process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def restart(self, index: int, timeout_s: float = 60) -> None:
        """Start a stopped node again on its ports and store; returns once it is healthy."""
        self._launch(index)
        self.wait_healthy([index], timeout_s)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()

    def __enter__(self) -> "NatsCluster":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
