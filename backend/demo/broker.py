"""Starting an MQTT broker for the demo and the tests.

Mosquitto with a generated config (loopback only, explicit queue limits, persistence
in our own folder) when the binary exists; otherwise amqtt, embedded in a child
process (MQTT 3.1.1 only, so clients then speak protocol 4).
"""
from __future__ import annotations

import getpass
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.demo.ports import free_port, wait_until_listening

MOSQUITTO_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")

# Mosquitto's default queue (1000 messages) drops most of a burst to a slow subscriber.
MOSQUITTO_CONFIG = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {data_dir}/
autosave_interval 30
persistent_client_expiration 7d
max_queued_messages 1000000
max_queued_bytes 1073741824
max_inflight_messages 100
max_packet_size 1048576
user {user}
log_dest file {data_dir}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


class BrokerError(RuntimeError):
    pass


def mosquitto_config_text(port: int, data_dir: Path) -> str:
    return MOSQUITTO_CONFIG.format(port=port, data_dir=data_dir.resolve(), user=getpass.getuser())


def find_mosquitto() -> str | None:
    for candidate in MOSQUITTO_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass
class BrokerProcess:
    kind: str  # "mosquitto" | "amqtt"
    port: int
    protocol: int  # MQTT protocol level clients must use: 5 or 4
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_broker(data_dir: Path, port: int | None = None, prefer: str = "mosquitto",
                 preexec_fn=None) -> BrokerProcess:
    """Start a broker on `port` (a free one if None) keeping its files in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    binary = find_mosquitto() if prefer == "mosquitto" else None
    if binary:
        config = data_dir / "mosquitto.conf"
        config.write_text(mosquitto_config_text(port, data_dir))
        command, kind, protocol = [binary, "-c", str(config)], "mosquitto", 5
    elif importlib.util.find_spec("amqtt") is not None:
        command = [sys.executable, "-m", "backend.demo.embedded_broker", str(port)]
        kind, protocol = "amqtt", 4
    else:
        raise BrokerError("no MQTT broker: install mosquitto (apt-get install mosquitto), or the demo's "
                          "embedded fallback with pip install 'pledgewatch[demo]'")
    log_file = open(data_dir / f"{kind}.out", "ab")
    process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, preexec_fn=preexec_fn)
    log_file.close()
    broker = BrokerProcess(kind, port, protocol, process)
    if not wait_until_listening(port, timeout_s=15):
        broker.stop()
        raise BrokerError(f"{kind} did not start listening on port {port}; see {data_dir}")
    return broker
