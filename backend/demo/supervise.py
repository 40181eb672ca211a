"""Child processes of `pledgewatch demo` and `pledgewatch cluster`: each in its own process
group with its log file, all stopped in dependency order, nothing left behind.

Each child gets SIGTERM if its parent dies (Linux parent-death signal); a terminal's Ctrl-C
reaches the parent alone, which stops the children tier by tier (gateways before brokers).
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Runs in the child before exec: its own process group, and SIGTERM from the kernel
    when the parent dies."""
    os.setpgrp()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the parent's own shutdown path still stops its children


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    tier: int  # stopped before every child of a higher tier


class Children:
    """The processes one command started, by tier; `stopping` is set by a signal handler."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def spawn(self, name: str, args: list[str], tier: int) -> subprocess.Popen:
        """`pledgewatch <args>` with its output in logs/<name>.log."""
        return self.spawn_command(name, [sys.executable, "-m", "backend.cli", *args], tier)

    def spawn_command(self, name: str, command: list[str], tier: int) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        self.adopt(name, process, tier)
        return process

    def adopt(self, name: str, process: subprocess.Popen, tier: int) -> None:
        """A process started elsewhere (a broker, a database) to stop in its tier."""
        self.children.append(Child(name, process, tier))

    def wait(self, duration_s: float | None) -> str | None:
        """Until stopped, the time is up, or a child dies (returns its name)."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while not self.stopping.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return None
            for child in self.children:
                if child.process.poll() is not None:
                    return child.name
            self.stopping.wait(0.5)
        return None

    def stop(self) -> None:
        """Tier by tier, lowest first, each tier gone before the next is asked."""
        for tier in sorted({child.tier for child in self.children}):
            group = [child for child in self.children if child.tier == tier]
            for child in group:
                if child.process.poll() is None:
                    child.process.terminate()
            for child in group:
                try:
                    child.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
