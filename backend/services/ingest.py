"""Ingest use case: decode -> check gateway and signature -> dedup -> store -> acks.

Called with a micro-batch of raw MQTT messages; returns, per (gateway, epoch), the
highest contiguous seq now durably stored — what the caller acknowledges.
Every message ends in exactly one bucket: stored, duplicate or quarantined.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.metrics import Metrics
from backend.ports import AcceptedMessage, IngestLedger, QuarantinedMessage, ReadingStore
from backend.settings import IngestSettings
from edge import protocol

QUARANTINE_REASONS = protocol.DECODE_REASONS + ("unknown_gateway", "unsigned", "future_timestamp")


@dataclass(frozen=True)
class InboundMessage:
    topic: str
    payload: bytes
    received_at_s: float


def count_readings_leniently(payload: bytes) -> int:
    """How many readings a refused message carried, if that can be told; else 1."""
    try:
        readings = json.loads(payload).get("readings")
        return len(readings) if isinstance(readings, list) and readings else 1
    except (ValueError, AttributeError, RecursionError):
        return 1


class IngestService:
    def __init__(self, readings: ReadingStore, ledger: IngestLedger,
                 gateway_keys: Mapping[str, Ed25519PublicKey | None], settings: IngestSettings,
                 metrics: Metrics) -> None:
        self.readings, self.ledger = readings, ledger
        self.gateway_keys, self.settings, self.metrics = gateway_keys, settings, metrics

    def ingest(self, inbound: Sequence[InboundMessage], now_s: float) -> dict[tuple[str, int], int]:
        accepted: list[AcceptedMessage] = []
        quarantined: list[QuarantinedMessage] = []
        for message in inbound:
            try:
                accepted.append(self._accept(message, now_s))
            except protocol.DecodeError as exc:
                quarantined.append(self._quarantine(message, exc.reason, exc.detail))
            except _Refused as exc:
                quarantined.append(self._quarantine(message, exc.reason, exc.detail))
        new, duplicates = self._split_duplicates(accepted)
        self.readings.append(new)  # durable before anything is acknowledged
        acks = self.ledger.record(new, quarantined)
        # A gateway that resends may have missed our ack: answer for its epoch too.
        resent_epochs = {(m.envelope.gateway, m.envelope.epoch) for m in duplicates} - acks.keys()
        acks.update(self.ledger.contiguous_seqs(sorted(resent_epochs)))
        self._count(new, duplicates, quarantined, now_s)
        return acks

    def _accept(self, message: InboundMessage, now_s: float) -> AcceptedMessage:
        envelope = protocol.decode(message.payload, message.topic)
        if envelope.gateway not in self.gateway_keys:
            raise _Refused("unknown_gateway", f"gateway {envelope.gateway!r} is not registered")
        public_key = self.gateway_keys[envelope.gateway]
        if public_key is not None:
            protocol.verify(envelope, public_key)
        elif not self.settings.accept_unsigned:
            raise _Refused("unsigned", f"gateway {envelope.gateway!r} has no registered key")
        now_ms = int(now_s * 1000)
        latest_ms = max(r.time_ms for r in envelope.readings)
        if latest_ms > now_ms + self.settings.future_tolerance_s * 1000:
            raise _Refused("future_timestamp", f"device time {latest_ms} is ahead of {now_ms}")
        return AcceptedMessage(envelope, int(message.received_at_s * 1000),
                               live_after_ms=now_ms - int(self.settings.live_window_s * 1000))

    def _quarantine(self, message: InboundMessage, reason: str, detail: str) -> QuarantinedMessage:
        return QuarantinedMessage(message.topic, message.payload, reason, detail[:500],
                                  int(message.received_at_s * 1000),
                                  count_readings_leniently(message.payload))

    def _split_duplicates(self, accepted: list[AcceptedMessage]):
        seen = self.ledger.already_stored([m.key for m in accepted])
        new, duplicates = [], []
        for message in accepted:
            (duplicates if message.key in seen else new).append(message)
            seen.add(message.key)
        return new, duplicates

    def _count(self, new, duplicates, quarantined, now_s: float) -> None:
        m = self.metrics
        stored_readings = sum(len(x.envelope.readings) for x in new)
        duplicate_readings = sum(len(x.envelope.readings) for x in duplicates)
        m.messages_stored.inc(len(new))
        m.readings_stored.inc(stored_readings)
        m.messages_duplicate.inc(len(duplicates))
        m.readings_duplicate.inc(duplicate_readings)
        m.messages_received.inc(len(new) + len(duplicates))
        m.readings_received.inc(stored_readings + duplicate_readings)
        self._count_quarantined(quarantined)
        for message in new:
            m.ingest_lag.observe(max(0.0, now_s - message.envelope.sent_at_ms / 1000))

    def _count_quarantined(self, quarantined: Sequence[QuarantinedMessage]) -> None:
        for q in quarantined:
            self.metrics.messages_received.inc()
            self.metrics.readings_received.inc(q.reading_count)
            self.metrics.messages_quarantined.labels(q.reason).inc()
            self.metrics.readings_quarantined.inc(q.reading_count)

    def gateway_state(self, message: InboundMessage) -> None:
        """Birth/death: remember whether the gateway is online and its boot epoch."""
        try:
            gateway, _ = protocol.parse_topic(message.topic)
            state = protocol.decode_state(message.payload)
            if state.gateway != gateway:
                raise protocol.DecodeError("gateway_mismatch", f"topic {gateway!r}, payload {state.gateway!r}")
            if gateway not in self.gateway_keys:
                raise _Refused("unknown_gateway", f"gateway {gateway!r} is not registered")
        except (protocol.DecodeError, _Refused) as exc:
            refused = self._quarantine(message, exc.reason, exc.detail)
            self.ledger.record([], [refused])
            self._count_quarantined([refused])
            return
        self.ledger.set_gateway_state(gateway, state.online, state.epoch, state.info,
                                      int(message.received_at_s * 1000))


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail
