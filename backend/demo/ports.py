"""Finding free TCP ports on the loopback interface."""
from __future__ import annotations

import socket


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class DistinctPorts:
    """Free ports that differ from each other. Each stays bound until `release()`: asked twice
    in a row, the OS can hand out the same free port (seen: a demo scale and reader on one)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._held: list[socket.socket] = []

    def __call__(self) -> int:
        probe = socket.socket()
        probe.bind((self.host, 0))
        self._held.append(probe)
        return probe.getsockname()[1]

    def release(self) -> None:
        for probe in self._held:
            probe.close()
        self._held.clear()

    def __enter__(self) -> "DistinctPorts":
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def first_free_port(preferred: int, tries: int = 100, host: str = "127.0.0.1") -> int:
    """`preferred` if free, else the next free one above it."""
    for port in range(preferred, preferred + tries):
        if is_free(port, host):
            return port
    return free_port(host)


def wait_until_listening(port: int, timeout_s: float, host: str = "127.0.0.1") -> bool:
    import time
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.05)
    return False
