"""`pledgewatch demo`: broker, backend, and per warehouse its simulated devices and its edge agent.

Each child gets SIGTERM if the demo dies (Linux parent-death signal), and the demo
stops them all on Ctrl-C, SIGTERM or when `--duration` is up: nothing is left behind.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from backend.demo.broker import BrokerProcess, start_broker
from backend.demo.ports import first_free_port, free_port, wait_until_listening
from backend.demo.setup import DemoLayout, DemoPorts, load_seed, write_config_set

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: its own process group, so that a terminal's Ctrl-C
    reaches the demo alone and the demo stops its children in order (gateways before the
    broker); and SIGTERM from the kernel when the demo dies."""
    os.setpgrp()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the demo's own shutdown path still stops its children


@dataclass
class Child:
    name: str
    process: subprocess.Popen


class DemoError(RuntimeError):
    pass


class Demo:
    def __init__(self, state_dir: Path, http_port: int, prefer_broker: str = "mosquitto") -> None:
        self.state_dir, self.http_port, self.prefer_broker = state_dir, http_port, prefer_broker
        self.children: list[Child] = []
        self.broker: BrokerProcess | None = None
        self.stopping = threading.Event()

    def start(self) -> DemoLayout:
        broker_port = free_port()
        self.broker = start_broker(self.state_dir / "broker", broker_port, self.prefer_broker,
                                   preexec_fn=_die_with_parent)
        http_port = first_free_port(self.http_port)
        layout = write_config_set(self.state_dir, DemoPorts(broker_port, http_port, self.broker.protocol),
                                  load_seed())
        logs = self.state_dir / "logs"
        logs.mkdir(exist_ok=True)
        self._spawn("backend", ["backend", "--config", str(layout.backend_config)], logs)
        if not wait_until_listening(http_port, timeout_s=30):
            raise DemoError(f"the backend did not start; see {logs / 'backend.log'}")
        for gateway, config in layout.sim_configs.items():
            self._spawn(f"sim-devices-{gateway}", ["sim", "devices", "--config", str(config)], logs)
        for gateway, control_port in layout.sim_control_ports.items():
            if not wait_until_listening(control_port, timeout_s=30):
                raise DemoError(f"the devices of {gateway} did not start; "
                                f"see {logs / f'sim-devices-{gateway}.log'}")
        for gateway, config in layout.edge_configs.items():
            self._spawn(f"edge-{gateway}", ["edge", "--config", str(config)], logs)
        self.http_port = http_port
        return layout

    def _spawn(self, name: str, args: list[str], logs: Path) -> None:
        with open(logs / f"{name}.log", "ab") as log_file:
            process = subprocess.Popen([sys.executable, "-m", "backend.cli", *args],
                                       stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.children.append(Child(name, process))

    def wait(self, duration_s: float | None) -> str | None:
        """Until stopped, the time is up, or a child dies (returns its name)."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while not self.stopping.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return None
            for child in self.children:
                if child.process.poll() is not None:
                    return child.name
            if self.broker and self.broker.process.poll() is not None:
                return "broker"
            self.stopping.wait(0.5)
        return None

    def stop(self) -> None:
        """In dependency order, each tier gone before the next is asked: the gateways (they
        flush to their outbox and say goodbye to their devices), the devices, the backend,
        then the broker."""
        edges = [child for child in self.children if child.name.startswith("edge-")]
        devices = [child for child in self.children if child.name.startswith("sim-devices-")]
        rest = [child for child in self.children if child not in edges + devices]  # the backend
        for group in (edges, devices, rest):
            for child in group:
                if child.process.poll() is None:
                    child.process.terminate()
            for child in group:
                try:
                    child.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        if self.broker:
            self.broker.stop()


def run_demo(state_dir: Path, http_port: int, duration_s: float | None, open_browser: bool,
             echo=print) -> int:
    demo = Demo(state_dir, http_port)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: demo.stopping.set())
    try:
        layout = demo.start()
        base = f"http://127.0.0.1:{demo.http_port}"
        echo(_banner(base, demo.broker, layout))
        if open_browser:
            webbrowser.open(f"{base}/")
        died = demo.wait(duration_s)
        if died:
            echo(f"demo: {died} stopped unexpectedly; see {state_dir / 'logs' / (died + '.log')}")
            return 1
        return 0
    finally:
        echo("demo: stopping ...")
        demo.stop()


def _banner(base: str, broker: BrokerProcess, layout: DemoLayout) -> str:
    lenders = "\n".join(f"    {kind[:-1]:<9}{party:<17} {key}" for kind in ("lenders", "borrowers", "warehouses")
                         for party, key in layout.api_keys.get(kind, {}).items())
    return f"""
PledgeWatch demo is running (Ctrl-C stops it).
  API             {base}/api/v1/health   (OpenAPI: {base}/docs)
  Dashboard       {base}/
  Metrics         {base}/metrics
  MQTT broker     {broker.url}  ({broker.kind})
  State and logs  {layout.root}
  API keys (Authorization: Bearer <key>):
    admin               {layout.api_keys['admin']}
    supervisor          {layout.api_keys['supervisor']}
{lenders}
"""
