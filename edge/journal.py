"""The sample journal: every reading is written to disk the moment it is sampled, before it
waits in the batch buffer, so a kill -9 loses nothing that was sampled.

Segments `journal/<n>.jsonl` of JSON lines (protocol.Reading.to_json), appended with one
write(2) per sampling round and no fsync: the kernel has the bytes once write returns, and
that is what survives the death of the process. (A power cut may lose the unsynced tail,
as it would the batch buffer; the outbox's own commit is fsynced.) When the buffer is
flushed the current segment is closed (`rotate`) and a new one opened; the outbox records,
in the transaction that stores the segment's batches, that the segment is done, and only
then is the file deleted. On start, segments not done are read back (`recover`) and become
the new boot epoch's first batches: never lost, never stored twice.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from edge import protocol

log = logging.getLogger("pledgewatch.edge.journal")


class SampleJournal:
    def __init__(self, folder: Path, done: int = 0) -> None:
        """`done`: the last segment the outbox holds; numbers never go back below it, even
        when the folder is empty (a reused number would be taken for done and lost)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.segment = max(*self._segments(), done, 0) + 1
        self._fd: int | None = None  # opened by the first write of the segment

    def _open(self, segment: int) -> int:
        return os.open(self.folder / f"{segment}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob("*.jsonl") if p.stem.isdigit())

    def write(self, readings: list[protocol.Reading]) -> None:
        """Raises OSError when the disk refuses (full, read-only): the readings then live
        in memory only, until their batch reaches the outbox."""
        if not readings:
            return
        if self._fd is None:
            self._fd = self._open(self.segment)
        data = "".join(json.dumps(r.to_json(), separators=(",", ":")) + "\n" for r in readings).encode()
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while data:  # a regular file takes it whole unless the disk is full (then OSError)
                data = data[os.write(self._fd, data):]
        except OSError:
            os.ftruncate(self._fd, start)  # no half line for the next round to follow
            raise

    def rotate(self) -> int:
        """Close the current segment (it holds exactly the readings just flushed); returns it."""
        self.close()
        closed, self.segment = self.segment, self.segment + 1
        return closed

    def discard(self, up_to: int) -> None:
        """Delete the segments up to `up_to` (their batches are in the outbox)."""
        for segment in self._segments():
            if segment <= up_to:
                (self.folder / f"{segment}.jsonl").unlink(missing_ok=True)

    def recover(self, done: int) -> tuple[list[protocol.Reading], int]:
        """Readings of the closed segments after `done`, and the last such segment (0: none)."""
        readings, last = [], 0
        for segment in self._segments():
            if segment <= done or segment >= self.segment:
                continue
            last = segment
            for n, line in enumerate((self.folder / f"{segment}.jsonl").read_bytes().splitlines()):
                try:
                    raw = json.loads(line)
                    readings.append(protocol.Reading(raw["sensor"], raw["kind"], raw["time_ms"], raw["values"],
                                                     raw["quality"], raw.get("clock_synced", True),
                                                     raw.get("error")))
                except (ValueError, KeyError, TypeError):  # a line cut short by the kill itself
                    log.warning("journal segment %d line %d unreadable; skipped", segment, n + 1)
        return readings, last

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
