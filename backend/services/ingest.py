"""Ingest use case: decode -> check gateway and signature -> dedup -> store -> acks.

Called with a micro-batch of raw MQTT messages (data and drop notices); returns, per
(gateway, epoch), the ack that settles what the batch carried: the seqs now durably stored
(or stored before: a resend), the seqs refused for good with their reason, and the seqs a
drop notice announced that never arrived. Every data message ends in exactly one bucket:
stored, duplicate or quarantined. Only a message whose signature checked out can earn a
refusal (a negative ack): a forger must not talk a gateway out of resending its data.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from typing import Callable, Mapping, Sequence

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.domain import evidence
from backend.metrics import Metrics
from backend.ports.evidence import ArchivedEnvelope, EnvelopeArchive
from backend.ports.ingest import (
    AcceptedMessage,
    AnySensor,
    InboundMessage,
    IngestLedger,
    MessageKey,
    QuarantinedMessage,
    ReadingStore,
    SensorRegistry,
)
from backend.services.evidence_pack import signed_sha256
from backend.services.rotated_keys import RotatedKeys
from backend.settings import IngestSettings
from edge import protocol
from edge.protocol import wire_fast

# decoder_error: the reference decoder raised something other than DecodeError (a bug
# there); the message is quarantined so that it cannot block the stream.
QUARANTINE_REASONS = protocol.DECODE_REASONS + (
    "unknown_gateway", "unsigned", "unknown_sensor", "foreign_sensor", "future_timestamp", "decoder_error")

log = logging.getLogger("pledgewatch.ingest")

_EXPIRY_EVERY_S = 3600.0


def count_readings_leniently(payload: bytes) -> int:
    """How many readings a refused message carried, if that can be told; else 1."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            body = json.loads(payload)  # lenient: also takes NaN and huge numbers
        except (ValueError, RecursionError):
            return 1
    readings = body.get("readings") if isinstance(body, dict) else None
    return len(readings) if isinstance(readings, list) and readings else 1


class IngestService:
    def __init__(self, readings: ReadingStore, ledger: IngestLedger,
                 gateway_keys: Mapping[str, Ed25519PublicKey | None], settings: IngestSettings,
                 metrics: Metrics, sensors: SensorRegistry = AnySensor(),
                 retention_s: float | None = None, rotated: RotatedKeys | None = None,
                 archive: EnvelopeArchive | None = None) -> None:
        self.readings, self.ledger, self.sensors, self.rotated = readings, ledger, sensors, rotated
        # None: signed envelopes are neither kept nor logged. Written on this thread, before the
        # readings (in a thread beside their write, both drivers' per-row GIL hand-offs slowed
        # it), committed on the archive's own thread while the readings are written: the
        # commit is one driver call that releases the GIL (docs/evidence.md, "Costs").
        self.archive = archive
        self.gateway_keys, self.settings, self.metrics = gateway_keys, settings, metrics
        self._verifier = wire_fast.Verifier()
        self.ack_signer: protocol.Signer | None = None  # the backend's command key, when it has one
        self.retention_s = retention_s
        self._next_expiry_s = 0.0

    def housekeeping(self, now_s: float) -> None:
        """At most hourly: expire readings past the retention (the writer thread calls this
        between batches, so the store never sees two writers of ours)."""
        if self.retention_s is None or now_s < self._next_expiry_s:
            return
        self._next_expiry_s = now_s + _EXPIRY_EVERY_S
        expired = self.readings.expire(int((now_s - self.retention_s) * 1000))
        if expired:
            log.info("retention: %d readings folded into hourly rows and deleted", expired)

    def ingest(self, inbound: Sequence[InboundMessage], now_s: float) -> dict[tuple[str, int], protocol.Ack]:
        accepted: list[AcceptedMessage] = []
        quarantined: list[QuarantinedMessage] = []
        refusals: list[tuple[MessageKey, QuarantinedMessage]] = []
        announced: list[MessageKey] = []
        for message in inbound:
            try:
                if message.topic.endswith("/drops"):
                    notice = self._accept_drops(message)
                    announced += [(notice.gateway, notice.epoch, seq) for seq in notice.seqs]
                else:
                    accepted.append(self._accept(message, now_s))
            except (protocol.DecodeError, _Refused) as exc:
                refused = self._quarantine(message, exc.reason, exc.detail)
                key = getattr(exc, "key", None)
                (refusals.append((key, refused)) if key else quarantined.append(refused))
        seen = self.ledger.already_stored([m.key for m in accepted] + [k for k, _ in refusals] + announced)
        candidates, duplicates = self._split_duplicates(accepted, set(seen))
        stored_keys = seen | {m.key for m in candidates}
        # A resend refused now (say its sensor was unregistered since) but stored before: a duplicate.
        refusals = [(key, q) for key, q in refusals if key not in stored_keys]
        kept = self._keep(candidates)  # archived and logged: committing while the readings are written
        try:
            self.readings.append(candidates)  # durable before anything is acknowledged
        finally:
            kept()  # durable before the ledger records it: never acknowledged unlogged
        recorded = self.ledger.record(candidates, quarantined + [q for _, q in refusals],
                                      [(key, q.reason) for key, q in refusals],
                                      [key for key in announced if key not in stored_keys])
        # Another ingest process may have recorded the same message meanwhile: the
        # ledger's primary key decided, and the store ignored the second copy.
        new = [m for m in candidates if m.key in recorded.new_keys]
        duplicates += [m for m in candidates if m.key not in recorded.new_keys]
        self._count(new, duplicates, quarantined + [q for _, q in refusals], now_s)
        return self._acks(recorded.acks, stored_keys, refusals, announced)

    def _keep(self, candidates: Sequence[AcceptedMessage]) -> Callable[[], int]:
        """Archive and log the new messages (idempotent: a message kept before is not logged
        again); returns what waits until that is durable."""
        if self.archive is None or not candidates:
            return lambda: 0
        return self.archive.begin_keep([archived(m) for m in candidates])

    def _acks(self, contiguous: Mapping[tuple[str, int], int], stored_keys: set[MessageKey],
              refusals: list[tuple[MessageKey, QuarantinedMessage]],
              announced: list[MessageKey]) -> dict[tuple[str, int], protocol.Ack]:
        settled: dict[tuple[str, int], tuple[set[int], dict[int, str], set[int]]] = {}
        for gateway, epoch, seq in stored_keys:
            settled.setdefault((gateway, epoch), (set(), {}, set()))[0].add(seq)
        for (gateway, epoch, seq), refused in refusals:
            settled.setdefault((gateway, epoch), (set(), {}, set()))[1][seq] = refused.reason
        for gateway, epoch, seq in announced:
            if (gateway, epoch, seq) not in stored_keys:
                settled.setdefault((gateway, epoch), (set(), {}, set()))[2].add(seq)
        # A gateway that resends may have missed our ack: its epoch's progress too.
        contiguous = {**self.ledger.contiguous_seqs(sorted(settled.keys() - contiguous.keys())), **contiguous}
        return {(gateway, epoch): protocol.Ack(gateway, epoch, contiguous.get((gateway, epoch), 0),
                                               tuple(sorted(stored)), refused, tuple(sorted(dropped)))
                for (gateway, epoch), (stored, refused, dropped) in settled.items()}

    def ack_messages(self, acks: Mapping[tuple[str, int], protocol.Ack]) -> list[tuple[str, bytes]]:
        """(topic, payload) to publish: the signed ranged ack, then (`legacy_acks`) the
        acked_seq-only form a gateway older than ranged acks understands."""
        out = []
        for ack in acks.values():
            topic = protocol.topic(ack.gateway, "ack")
            out.append((topic, protocol.encode_ack(ack, self.ack_signer)))
            if self.settings.legacy_acks:
                out.append((topic, protocol.encode_ack(protocol.Ack(ack.gateway, ack.epoch, ack.acked_seq))))
        return out

    def _accept_drops(self, message: InboundMessage) -> protocol.DropNotice:
        notice = protocol.decode_drops(message.payload, message.topic)
        public_key = self._gateway_key(notice.gateway)
        if public_key is not None:
            rotated = self._rotated_key(notice.gateway, notice.signature)
            try:
                protocol.verify_drops(notice, public_key)
            except protocol.DecodeError:
                if rotated is None:
                    raise
                protocol.verify_drops(notice, rotated)
        return notice

    def _gateway_key(self, gateway: str) -> Ed25519PublicKey | None:
        """The gateway's registered key (None: unsigned allowed); refuses unknown gateways."""
        if gateway not in self.gateway_keys:
            raise _Refused("unknown_gateway", f"gateway {gateway!r} is not registered")
        public_key = self.gateway_keys[gateway]
        if public_key is None and not self.settings.accept_unsigned:
            raise _Refused("unsigned", f"gateway {gateway!r} has no registered key")
        return public_key

    def _accept(self, message: InboundMessage, now_s: float) -> AcceptedMessage:
        envelope = self._decode(message)
        public_key = self._gateway_key(envelope.gateway)
        if public_key is not None:
            envelope = self._verify(envelope, public_key, message)
        # Authentic from here on: a refusal is told to the gateway (a negative ack).
        key = (envelope.gateway, envelope.epoch, envelope.seq)
        readings = envelope.readings
        fast = type(readings) is wire_fast.Rows  # no protocol.Reading objects built for it
        sensors = readings.sensors() if fast else {r.sensor for r in readings}
        foreign = sorted(f"{sensor} ({owner})" for sensor, owner in self.sensors.owners(sensors).items()
                         if owner != envelope.gateway)
        if foreign:  # a gateway vouching for goods it cannot see: the monitor reports tampering
            raise _Refused("foreign_sensor", f"sensors of other gateways: {', '.join(foreign)[:300]}", key)
        now_ms = int(now_s * 1000)
        latest_ms = readings.max_ms if fast else max(r.time_ms for r in readings)
        if latest_ms > now_ms + self.settings.future_tolerance_s * 1000:
            raise _Refused("future_timestamp", f"device time {latest_ms} is ahead of {now_ms}", key)
        return AcceptedMessage(envelope, int(message.received_at_s * 1000),
                               live_after_ms=now_ms - int(self.settings.live_window_s * 1000), payload=message.payload)

    @staticmethod
    def _decode(message: InboundMessage) -> protocol.Envelope:
        envelope = wire_fast.decode_plain(message.payload, message.topic)
        if envelope is not None:
            return envelope
        try:
            return protocol.decode(message.payload, message.topic)  # the verdict and its reason
        except protocol.DecodeError:
            raise
        except Exception as exc:  # a decoder bug must not block the stream behind this message
            log.exception("the decoder failed on a message from %s", message.topic)
            raise _Refused("decoder_error", f"{type(exc).__name__}: {exc}") from exc

    def _verify(self, envelope: protocol.Envelope, public_key: Ed25519PublicKey,
                message: InboundMessage) -> protocol.Envelope:
        """The envelope, its `signed_bytes` those its signature covers; DecodeError if none do."""
        if self._verifier.verify(envelope, public_key):
            return envelope
        rotated = self._rotated_key(envelope.gateway, envelope.signature)  # a key it rotated to?
        if rotated is not None and self._verifier.verify(envelope, rotated):
            return envelope
        # The fast path's canonical bytes may differ from the reference's: its verdict rules.
        reference = protocol.decode(message.payload, message.topic)
        protocol.verify(reference, rotated or public_key)
        return dataclasses.replace(envelope, signed_bytes=reference.signed_bytes)

    def _rotated_key(self, gateway: str, signature: protocol.Signature | None) -> Ed25519PublicKey | None:
        if self.rotated is None or signature is None:
            return None
        return self.rotated.key(gateway, signature.key_id)

    def _quarantine(self, message: InboundMessage, reason: str, detail: str) -> QuarantinedMessage:
        return QuarantinedMessage(message.topic, message.payload, reason, detail[:500],
                                  int(message.received_at_s * 1000),
                                  count_readings_leniently(message.payload))

    @staticmethod
    def _split_duplicates(accepted: list[AcceptedMessage], seen: set[MessageKey]):
        """Messages the ledger already holds (`seen`, or repeated in this batch) vs candidates."""
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


def archived(message: AcceptedMessage) -> ArchivedEnvelope:
    """A stored message as the evidence archive keeps it, with its batch.ingested entry."""
    envelope = message.envelope
    readings = envelope.readings
    if type(readings) is wire_fast.Rows:
        first_ms, last_ms = readings.min_ms, readings.max_ms
    else:
        first_ms, last_ms = min(r.time_ms for r in readings), max(r.time_ms for r in readings)
    signature = envelope.signature
    leaf = evidence.batch_leaf(envelope.gateway, envelope.epoch, envelope.seq,
                               signed_sha256=signed_sha256(envelope.signed_bytes), readings=len(readings),
                               key_id=signature.key_id if signature else None, received_s=message.received_at_ms // 1000)
    return ArchivedEnvelope(envelope.gateway, envelope.epoch, envelope.seq, message.received_at_ms, first_ms,
                            last_ms, message.payload, leaf)


class _Refused(Exception):
    """`key` set: the message is authentic, so its gateway is told (a negative ack)."""

    def __init__(self, reason: str, detail: str, key: MessageKey | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.key = reason, detail, key
