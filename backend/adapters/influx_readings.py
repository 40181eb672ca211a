"""InfluxDB `ReadingStore` (influxdb-client): line protocol through a durable disk spool,
beside the embedded store as the window the monitor and the API read.

`append` writes the batch's line protocol to a spool segment (fsync'd) and the readings to
the readings window (`window`: the embedded SQLite store or the database's, which keeps them
`window_days`): both are durable before ingest acknowledges. A flusher thread sends the oldest segments, ~5,000 lines per gzip'd
POST, with exponential backoff while the server is down, and deletes a segment only after
the server accepted it: nothing is lost across an outage or a restart. Writing the same
point twice (a redelivery) overwrites it: same series, same timestamp.
Reads come from the window, not Flux: the monitor needs every reading in id order with its
EPCs (never tags in the TSDB), and only a real InfluxDB 2.x speaks Flux.
Schema (docs/storage.md): one measurement per kind; tags gateway, sensor, quality
(ids match [A-Za-z0-9._-], so nothing needs escaping); numeric fields only.
"""
from __future__ import annotations

import fcntl
import logging
import os
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from tenacity import Retrying, retry_if_exception_type, wait_exponential

from backend.ports.ingest import (
    AcceptedMessage,
    LatestValue,
    ReadingQuery,
    ReadingStore,
    StoredReading,
    TagPresence,
)
from edge.protocol import Reading

log = logging.getLogger("pledgewatch.influx")

LINES_PER_POST = 5_000


def reading_line(gateway: str, reading: Reading, historical: bool) -> str:
    """One line of line protocol, built as a string (a Point object costs ~8x more)."""
    values = reading.values
    if reading.kind == "rfid":
        fields = f"tag_count={len(values.get('tags', ()))}i"
    else:
        fields = ",".join(f"{name}={float(value)!r}" if type(value) is not bool else f"{name}={int(value)}i"
                          for name, value in values.items())
    hist = ",historical=1i" if historical else ""
    separator = "," if fields else ""
    return (f"{reading.kind},gateway={gateway},quality={reading.quality},sensor={reading.sensor} "
            f"{fields}{separator}ok={int(reading.quality != 'bad')}i{hist} {reading.time_ms}")


class DiskSpool:
    """Numbered segment files; a segment is written whole (tmp, fsync, rename) or not at all.
    Every backend process on a host opens the same folder: each names its segments with its
    own token (two never write one file), and one flusher at a time sends them (a file lock),
    so no segment is sent twice."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._token = secrets.token_hex(4)
        existing = self.segments()
        self._next = _segment_number(existing[-1]) + 1 if existing else 1

    def segments(self) -> list[Path]:
        return sorted(self.folder.glob("*.lp"), key=_segment_number)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with (self.folder / ".flush.lock").open("w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
            yield

    def put(self, lines: list[str]) -> None:
        with self._lock:
            number, self._next = self._next, self._next + 1
        tmp = self.folder / f"{number}.{self._token}.tmp"
        with tmp.open("w") as spool_file:
            spool_file.write("\n".join(lines) + "\n")
            spool_file.flush()
            os.fsync(spool_file.fileno())
        tmp.rename(self.folder / f"{number}.{self._token}.lp")
        directory = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself must survive a power cut
        finally:
            os.close(directory)


def _segment_number(path: Path) -> int:
    return int(path.name.split(".")[0])  # "<number>.<token>.lp" (or "<number>.lp" before tokens)


class InfluxReadingStore:
    def __init__(self, url: str, token: str, org: str, bucket: str, state_dir: Path, *,
                 window: ReadingStore, retry_max_s: float = 30.0) -> None:
        """The spool of unsent points in `state_dir` (this process's); `window`, the readings
        window the monitor and the API read (the embedded SQLite file, or the database's)."""
        self.bucket, self.org = bucket, org
        self.spool = DiskSpool(state_dir / "influx-spool")
        self.window = window
        self._client = InfluxDBClient(url=url, token=token, org=org, enable_gzip=True, timeout=30_000)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._retry_max_s = retry_max_s
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="influx-flusher", daemon=True)
        self._flusher.start()

    def append(self, messages: Sequence[AcceptedMessage]) -> int:
        lines = [reading_line(m.envelope.gateway, r, r.time_ms < m.live_after_ms)
                 for m in messages for r in m.envelope.readings]
        if lines:
            self.spool.put(lines)
        stored = self.window.append(messages)
        self._wake.set()
        return stored

    def pending_segments(self) -> int:
        return len(self.spool.segments())

    # -- flusher thread --------------------------------------------------------------

    def _flush_loop(self) -> None:
        retrying = Retrying(wait=wait_exponential(multiplier=0.2, max=self._retry_max_s),
                            retry=retry_if_exception_type(Exception),
                            stop=lambda state: self._stopping.is_set(), reraise=False,
                            before_sleep=lambda state: log.warning(
                                "InfluxDB write failed (%s); spooled, retrying",
                                state.outcome.exception()))
        while not self._stopping.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            try:
                retrying(self._flush_spool)
            except Exception:  # stopping while the server is down: the spool keeps it all
                pass

    def _flush_spool(self) -> None:
        """Send every spooled segment, oldest first, ~LINES_PER_POST lines per POST."""
        with self.spool.exclusive():
            self._send(self.spool.segments())

    def _send(self, segments: list[Path]) -> None:
        while segments:
            batch, lines = [], []
            while segments and (not lines or len(lines) < LINES_PER_POST):
                batch.append(segments.pop(0))
                lines.extend(batch[-1].read_text().splitlines())
            self._write_api.write(self.bucket, self.org, "\n".join(lines), write_precision=WritePrecision.MS)
            for segment in batch:
                segment.unlink()

    def flush(self, timeout_s: float) -> bool:
        """Wait until the spool is empty (True) or `timeout_s` passed (False)."""
        deadline = threading.Event()
        timer = threading.Timer(timeout_s, deadline.set)
        timer.start()
        try:
            while self.pending_segments() and not deadline.is_set():
                self._wake.set()
                deadline.wait(0.05)
        finally:
            timer.cancel()
        return not self.pending_segments()

    # -- reads: the window ------------------------------------------------------

    def latest(self, sensors: Sequence[str] = ()) -> list[LatestValue]:
        return self.window.latest(sensors)

    def tags(self, reader: str) -> list[TagPresence]:
        return self.window.tags(reader)

    def count(self) -> int:
        return self.window.count()

    def query(self, query: ReadingQuery) -> list[StoredReading]:
        return self.window.query(query)

    def expire(self, before_ms: int) -> int:
        """The window's cut-off; the TSDB keeps the bucket's retention period (docs/storage.md)."""
        return self.window.expire(before_ms)

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._flusher.join(timeout=10)
        self._client.close()
        self.window.close()
