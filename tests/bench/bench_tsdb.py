"""Benchmark (not a test): how many readings a second one victoria-metrics core takes
through the InfluxDB write API, in the lines our InfluxDB store writes.

    .venv/bin/python tests/bench/bench_tsdb.py [--readings 1000000] [--gateways 1000]

Starts its own victoria-metrics, POSTs gzip'd batches of LINES_PER_POST lines (as the
store's flusher does) from 2 threads, and reports readings/s and the server's CPU
seconds (from /proc) per million readings and its data dir's bytes per reading (just
flushed, before background merges): the figures docs/scaling.md sizes the TSDB with.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from backend.adapters.influx_readings import LINES_PER_POST, reading_line  # noqa: E402
from backend.demo.ports import free_port  # noqa: E402
from backend.demo.victoria import VictoriaMetrics  # noqa: E402
from edge import protocol  # noqa: E402


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bodies(readings: int, gateways: int) -> list[bytes]:
    """Scale readings of 10 sensors a gateway, a second apart: gzip'd POST bodies."""
    start_ms = int(time.time() * 1000) - readings // gateways // 10 * 1000
    lines = [reading_line(f"gw-{n % gateways}", protocol.Reading(
        f"gw-{n % gateways}-s{n // gateways % 10}", "weight", start_ms + n // (gateways * 10) * 1000,
        {"weight_kg": 1000.0 + n % 7}), False) for n in range(readings)]
    return [gzip.compress("\n".join(lines[i:i + LINES_PER_POST]).encode())
            for i in range(0, len(lines), LINES_PER_POST)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--gateways", type=int, default=1000)
    args = parser.parse_args()
    posts = bodies(args.readings, args.gateways)
    server = VictoriaMetrics(free_port(), Path(tempfile.mkdtemp(prefix="pw-bench-vm-")))
    server.start()
    try:
        client = httpx.Client(base_url=server.url, timeout=60)
        send = lambda body: client.post("/write?precision=ms", content=body,  # noqa: E731
                                        headers={"Content-Encoding": "gzip"}).raise_for_status()
        cpu_before, started = cpu_s(server.process.pid), time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(send, posts))
        client.get("/internal/force_flush")
        elapsed_s, server_cpu_s = time.perf_counter() - started, cpu_s(server.process.pid) - cpu_before
        disk_bytes = sum(f.stat().st_size for f in server.data_dir.rglob("*") if f.is_file())
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)
    print(json.dumps({"readings": args.readings, "series": args.gateways * 10, "lines_per_post": LINES_PER_POST,
                      "readings_per_s": round(args.readings / elapsed_s),
                      "server_cpu_s_per_million": round(server_cpu_s / args.readings * 1e6, 2),
                      "readings_per_server_core_s": round(args.readings / server_cpu_s),
                      "disk_bytes_per_reading": round(disk_bytes / args.readings, 2)}))


if __name__ == "__main__":
    main()
