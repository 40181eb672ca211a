"""Prometheus metrics of one backend process (its own registry: no global state)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The counters named in interfaces.md, plus message-level twins.

    The books balance at both levels: received = stored + duplicate + quarantined.
    A quarantined message whose readings cannot be counted counts as one reading.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.readings_received = Counter("pw_readings_received", "Readings that reached ingest", registry=r)
        self.readings_stored = Counter("pw_readings_stored", "Readings durably stored", registry=r)
        self.readings_duplicate = Counter("pw_readings_duplicate", "Readings of redelivered messages", registry=r)
        self.readings_quarantined = Counter("pw_readings_quarantined", "Readings of quarantined messages",
                                            registry=r)
        self.messages_received = Counter("pw_messages_received", "Data messages that reached ingest", registry=r)
        self.messages_stored = Counter("pw_messages_stored", "Data messages stored", registry=r)
        self.messages_duplicate = Counter("pw_messages_duplicate", "Data messages seen before", registry=r)
        self.messages_quarantined = Counter("pw_messages_quarantined", "Messages refused, by reason",
                                            ["reason"], registry=r)
        self.monitor_errors = Counter("pw_monitor_errors", "Evaluations the monitor could not make, by stage "
                                      "(reading, lot, loan); the rest of the tick went on", ["stage"],
                                      registry=r)
        self.monitor_partitions = Gauge("pw_monitor_partitions_owned", "Monitor partitions this process "
                                        "holds the lease of (monitor.partitions)", registry=r)
        self.alerts_opened = Counter("pw_alerts_opened", "Alerts opened, by type", ["type"], registry=r)
        self.webhook_deliveries = Counter("pw_webhook_deliveries", "Webhook delivery attempts, by outcome",
                                          ["outcome"], registry=r)
        self.ingest_lag = Histogram(
            "pw_ingest_lag_seconds", "From the gateway's sent_at to the durable write", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600))

    def readings_stored_total(self) -> int:
        """Readings this process has stored since it started."""
        return int(self.registry.get_sample_value("pw_readings_stored_total") or 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
