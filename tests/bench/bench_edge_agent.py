"""Benchmark (not a test): the edge agent's cost at steady state, and its replay rate.

    .venv/bin/python tests/bench/bench_edge_agent.py [--rates 100,1000] [--seconds 20]
        [--backlog 600] [--buckets 50,1000]

Everything is real and on this machine: Mosquitto, one `pledgewatch backend --role ingest`
process (acks flow, so the outbox stays near empty) and a `pledgewatch edge` process.

1. Steady state, per target rate: the agent reads `sim_lot` drivers (a scale reading and an
   RFID round of 4 tags per read: 2 readings), as many drivers at `every_s` 0.02 as the rate
   needs, batches of 50. After a warm-up, over `--seconds`: the readings/s actually queued
   (the agent's pw_edge_readings_total), its CPU (utime+stime from /proc, % of one core),
   RSS, CPU % per 1,000 readings/s, and the bytes it wrote per reading (/proc/<pid>/io:
   `write_bytes`, what reached the block layer, and `wchar`, what went through write(2)).
2. Replay: an outbox holding `--backlog` signed batches of 50 weight readings from an earlier
   boot epoch (written by edge.outbox/edge.pipeline, as an outage leaves it); the agent
   starts and replays them through its token bucket (`uplink.max_messages_per_s` per
   `--buckets`, bursts of 100). Rate = backlog batches stored at the backend (its ledger)
   per second from the first to the last (so ingest's own speed counts too), and past the
   first burst; expected duration from the bucket: (N - burst) / rate.
   Also the outbox's disk per million readings (SQLite file + WAL, pages included).

Prints one JSON line per measurement, and `uptime` before and after (other work on the box
skews CPU figures).
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.bench.ingest import start_ingest_process  # noqa: E402
from backend.demo.broker import start_broker  # noqa: E402
from backend.demo.ports import free_port  # noqa: E402
from edge import protocol  # noqa: E402
from edge.outbox import Outbox  # noqa: E402
from edge.pipeline import Batcher  # noqa: E402
from edge.protocol.keys import load_private_key, new_key_pair  # noqa: E402

GATEWAY = "gw-bench"
EVERY_S = 0.02
READINGS_PER_READ = 2
BATCH = 50
BURST = 100
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def agent_config(folder: Path, gateway: str, broker_port: int, key_file: Path, drivers: list[dict],
                 rate_per_s: float, metrics_port: int | None) -> Path:
    """Each run is its own gateway (own outbox, own seqs at the backend) in `folder`."""
    config = folder / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "gateway_id": gateway, "state_dir": str(folder / "edge"), "key_file": str(key_file),
        "broker": {"port": broker_port}, "clock_source": "synced",
        "batch": {"max_readings": BATCH, "max_delay_s": 1.0},
        "uplink": {"max_messages_per_s": rate_per_s, "burst_messages": BURST, "ack_timeout_s": 30},
        "metrics": {"port": metrics_port}, "drivers": drivers}))
    return config


def sim_lots(count: int, every_s: float) -> list[dict]:
    return [{"driver": "sim_lot", "every_s": every_s,
             "config": {"lot": f"lot-b{n}", "items": 4, "item_weight_kg": 1000.0,
                        "epc_prefix": "6FED9BE4", "rfid_read_rate": 1.0, "seed": n}}
            for n in range(count)]


def start_agent(config: Path, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "backend.cli", "edge", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def rss_mb(pid: int) -> tuple[float, float]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def io_bytes(pid: int) -> tuple[int, int]:
    """(write_bytes, wchar) of the process so far."""
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(io["write_bytes"]), int(io["wchar"])


def readings_total(metrics_port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    return next(float(line.split()[-1]) for line in text.splitlines()
                if line.startswith("pw_edge_readings_total"))


def steady_state(folder: Path, broker, key_file: Path, target_per_s: int, seconds: float) -> dict:
    drivers = max(1, round(target_per_s * EVERY_S / READINGS_PER_READ))
    metrics_port = free_port()
    run = folder / f"steady-{target_per_s}"
    run.mkdir()
    config = agent_config(run, gateway(run), broker.port, key_file, sim_lots(drivers, EVERY_S), 50.0,
                          metrics_port)
    agent = start_agent(config, run / "agent.log")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                readings_total(metrics_port)
                break
            except (httpx.HTTPError, StopIteration):
                if agent.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the agent did not start; see {run}") from None
                time.sleep(0.2)
        time.sleep(5)  # warm-up: imports done, connected, caches filled
        wall0, cpu0, readings0 = time.monotonic(), cpu_s(agent.pid), readings_total(metrics_port)
        io0 = io_bytes(agent.pid)
        rss_samples = []
        while time.monotonic() - wall0 < seconds:
            time.sleep(1)
            rss_samples.append(rss_mb(agent.pid)[0])
        wall, cpu, readings = (time.monotonic() - wall0, cpu_s(agent.pid) - cpu0,
                               readings_total(metrics_port) - readings0)
        written, wchar = (after - before for after, before in zip(io_bytes(agent.pid), io0))
        peak_mb = rss_mb(agent.pid)[1]
    finally:
        stop(agent)
    rate, cpu_pct = readings / wall, 100 * cpu / wall
    return {"measure": "steady_state", "target_readings_per_s": target_per_s, "drivers": drivers,
            "readings_per_s": round(rate, 1), "cpu_pct_of_one_core": round(cpu_pct, 1),
            "cpu_pct_per_1000_readings_per_s": round(cpu_pct / rate * 1000, 1),
            "rss_mb": round(max(rss_samples), 1), "rss_peak_mb": round(peak_mb, 1),
            "disk_bytes_per_reading": round(written / readings), "write_syscall_bytes_per_reading":
            round(wchar / readings),
            "seconds": round(wall, 1)}


def gateway(run: Path) -> str:
    return f"{GATEWAY}-{run.name}"


def fill_backlog(state_dir: Path, gateway_id: str, key_file: Path, batches: int) -> tuple[int, int]:
    """An outbox as an outage leaves it: `batches` signed batches of epoch 1; returns
    (epoch, disk bytes of outbox.sqlite + WAL)."""
    outbox = Outbox(state_dir / "outbox.sqlite")
    epoch = outbox.next_boot_epoch()
    batcher = Batcher(gateway_id, epoch, protocol.Signer(load_private_key(key_file)), BATCH, 3600)
    now_ms = int(time.time() * 1000)
    for n in range(batches):
        batcher.add([protocol_sample(f"lot-r{k % 10}-scale", now_ms + n, 1000.0 + n + k)
                     for k in range(BATCH)], time.time())
        for batch in batcher.flush(time.time()):
            outbox.append(batch)
    outbox.close()
    disk = sum(path.stat().st_size for path in state_dir.glob("outbox.sqlite*"))
    return epoch, disk


def protocol_sample(sensor: str, time_ms: int, weight_kg: float):
    from edge.drivers import Sample
    return Sample(sensor, "weight", time_ms, {"weight_kg": weight_kg, "stable": True})


def replay(folder: Path, broker, key_file: Path, backlog: int, bucket_per_s: float) -> dict:
    run = folder / f"replay-{int(bucket_per_s)}"
    run.mkdir()
    epoch, disk = fill_backlog(run / "edge", gateway(run), key_file, backlog)
    config = agent_config(run, gateway(run), broker.port, key_file, sim_lots(1, 3600.0), bucket_per_s, None)
    ledger = folder / "data" / "state.sqlite"
    count = ("SELECT count(*), min(recorded_at_ms), max(recorded_at_ms) FROM messages "
             "WHERE gateway = ? AND epoch = ?")
    started = time.monotonic()
    agent = start_agent(config, run / "agent.log")
    try:
        deadline = time.monotonic() + 600
        db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        try:
            while (row := db.execute(count, (gateway(run), epoch)).fetchone())[0] < backlog:
                if agent.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the backlog did not drain; see {run}")
                time.sleep(0.02)
        finally:
            db.close()
        boot_to_drained_s = time.monotonic() - started
        _, first_ms, last_ms = row
    finally:
        stop(agent)
    drain_s = (last_ms - first_ms) / 1000
    return {"measure": "replay", "backlog_batches": backlog, "readings_per_batch": BATCH,
            "bucket_messages_per_s": bucket_per_s, "burst": BURST,
            "replay_batches_per_s": round((backlog - 1) / drain_s, 1),
            "past_burst_batches_per_s": round((backlog - BURST) / drain_s, 1) if backlog > 2 * BURST else None,
            "replay_readings_per_s": round((backlog - 1) * BATCH / drain_s),
            "expected_s_from_bucket": round(max(0.0, backlog - BURST) / bucket_per_s, 2),
            "drain_s": round(drain_s, 2), "boot_to_drained_s": round(boot_to_drained_s, 2),
            "outbox_disk_mb_per_million_readings": round(disk / (backlog * BATCH) * 1e6 / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,1000", help="target readings/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--backlog", type=int, default=600, help="batches in the outbox")
    parser.add_argument("--buckets", default="50,1000,100000",
                        help="uplink.max_messages_per_s values (a huge one: the agent's own ceiling)")
    args = parser.parse_args()
    print(json.dumps({"uptime_before": uptime(), "cpus": os.cpu_count()}), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        folder = Path(tmp)
        key_file, public = new_key_pair(folder / "keys", GATEWAY)
        broker = start_broker(folder / "broker", prefer="mosquitto")
        ingest = None
        try:
            rates = [int(r) for r in args.rates.split(",") if r]
            buckets = [float(b) for b in args.buckets.split(",") if b]
            runs = [f"steady-{r}" for r in rates] + [f"replay-{int(b)}" for b in buckets]
            registry = [{"id": f"{GATEWAY}-{name}", "public_key_pem": public.read_text()} for name in runs]
            ingest = start_ingest_process(folder, broker, registry, 0)
            for rate in rates:
                print(json.dumps(steady_state(folder, broker, key_file, rate, args.seconds)), flush=True)
            for bucket in buckets:
                print(json.dumps(replay(folder, broker, key_file, args.backlog, bucket)), flush=True)
        finally:
            if ingest is not None:
                stop(ingest)
            broker.stop()
    print(json.dumps({"uptime_after": uptime()}), flush=True)


if __name__ == "__main__":
    main()
