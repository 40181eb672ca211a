"""`pledgewatch demo`: broker, backend, and per warehouse its simulated devices and its edge agent.

The children are stopped on Ctrl-C, SIGTERM or when `--duration` is up, gateways first and
the broker last, and die with the demo (backend/demo/supervise.py): nothing is left behind.
"""
from __future__ import annotations

import signal
import webbrowser
from pathlib import Path

from backend.demo.broker import BrokerProcess, start_broker
from backend.demo.ports import first_free_port, free_port, wait_until_listening
from backend.demo.setup import DemoLayout, DemoPace, DemoPorts, load_seed, write_config_set
from backend.demo.supervise import Children, die_with_parent

# Stopping order: each tier is gone before the next is asked. The gateways flush to their
# outbox and say goodbye to their devices; the backend goes before the broker it reads.
EDGES, DEVICES, BACKENDS, SERVERS = range(4)


class DemoError(RuntimeError):
    pass


def spawn_fleet(children: Children, layout: DemoLayout) -> None:
    """Each warehouse's simulated devices, then (once they listen) its edge agent."""
    for gateway, config in layout.sim_configs.items():
        children.spawn(f"sim-devices-{gateway}", ["sim", "devices", "--config", str(config)], DEVICES)
    for gateway, control_port in layout.sim_control_ports.items():
        if not wait_until_listening(control_port, timeout_s=30):
            raise DemoError(f"the devices of {gateway} did not start; "
                            f"see {children.logs / f'sim-devices-{gateway}.log'}")
    for gateway, config in layout.edge_configs.items():
        children.spawn(f"edge-{gateway}", ["edge", "--config", str(config)], EDGES)


class Demo:
    def __init__(self, state_dir: Path, http_port: int, prefer_broker: str = "mosquitto",
                 pace: DemoPace = DemoPace()) -> None:
        self.state_dir, self.http_port, self.prefer_broker, self.pace = state_dir, http_port, prefer_broker, pace
        self.children = Children(state_dir / "logs")
        self.broker: BrokerProcess | None = None

    def start(self) -> DemoLayout:
        broker_port = free_port()
        self.broker = start_broker(self.state_dir / "broker", broker_port, self.prefer_broker,
                                   preexec_fn=die_with_parent)
        self.children.adopt("broker", self.broker.process, SERVERS)
        http_port = first_free_port(self.http_port)
        layout = write_config_set(self.state_dir, DemoPorts(broker_port, http_port, self.broker.protocol),
                                  load_seed(), pace=self.pace)
        self.children.spawn("backend", ["backend", "--config", str(layout.backend_config)], BACKENDS)
        if not wait_until_listening(http_port, timeout_s=30):
            raise DemoError(f"the backend did not start; see {self.children.logs / 'backend.log'}")
        spawn_fleet(self.children, layout)
        self.http_port = http_port
        return layout

    def wait(self, duration_s: float | None) -> str | None:
        """Until stopped, the time is up, or a child dies (returns its name)."""
        return self.children.wait(duration_s)

    def stop(self) -> None:
        self.children.stop()


def run_demo(state_dir: Path, http_port: int, duration_s: float | None, open_browser: bool,
             echo=print, pace: DemoPace = DemoPace()) -> int:
    demo = Demo(state_dir, http_port, pace=pace)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: demo.children.stopping.set())
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
