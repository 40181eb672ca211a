"""The agent's own Prometheus metrics (its own registry) and the optional /metrics port."""
from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class EdgeMetrics:
    def __init__(self, outbox_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.readings = Counter("pw_edge_readings", "Readings taken and queued for the outbox "
                                "(after filtering)", registry=self.registry)
        self.dropped = Counter("pw_edge_dropped", "Readings lost: evicted by the outbox disk "
                               "bound and confirmed never received by the backend",
                               registry=self.registry)
        self.evicted = Counter("pw_edge_evicted", "Readings evicted by the outbox disk bound "
                               "(oldest first) before the backend acknowledged them",
                               registry=self.registry)
        self.refused = Counter("pw_edge_refused_batches", "Batches the backend refused for good "
                               "(kept in the outbox's refused table)", registry=self.registry)
        self.storage_errors = Counter("pw_edge_storage_errors", "Writes to state_dir that failed "
                                      "(disk full, read-only, I/O error)", registry=self.registry)
        self.storage_ok = Gauge("pw_edge_storage_ok", "1 while writes to state_dir work, 0 while "
                                "they fail", registry=self.registry)
        self.storage_ok.set(1)
        self.unstored = Gauge("pw_edge_unstored_readings", "Readings in memory waiting for the "
                              "outbox to be writable again", registry=self.registry)
        depth = Gauge("pw_edge_outbox_depth", "Batches on disk awaiting the backend's ack",
                      registry=self.registry)
        depth.set_function(outbox_depth)
        self._server = None

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics on a thread; returns the bound port (port 0: a free one)."""
        self._server, _ = start_http_server(port, host, registry=self.registry)
        return self._server.server_port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
