"""Ports of ingest: the readings store, the ingest ledger and the sensor registry, with the
records that cross them (frozen dataclasses)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Protocol, Sequence

from edge.protocol import Ack, Envelope

MessageKey = tuple[str, int, int]  # (gateway, boot epoch, seq): the idempotency key


@dataclass(frozen=True)
class AcceptedMessage:
    envelope: Envelope
    received_at_ms: int
    live_after_ms: int  # readings with device time before this are stored as historical
    payload: bytes = field(default=b"", repr=False, compare=False)  # as received (the evidence archive keeps it)

    @property
    def key(self) -> MessageKey:
        return (self.envelope.gateway, self.envelope.epoch, self.envelope.seq)


@dataclass(frozen=True)
class QuarantinedMessage:
    topic: str
    payload: bytes
    reason: str
    detail: str
    received_at_ms: int
    reading_count: int  # how many readings it carried (1 when it could not be counted)


class UntrustedMessage(NamedTuple):
    """A message ingest refused as tampering: a bad signature, or another gateway's sensors."""
    quarantine_id: int
    gateway: str  # the sender, from the topic
    received_at_ms: int
    reason: str  # bad_signature | foreign_sensor
    payload: bytes


@dataclass(frozen=True)
class StoredReading:
    id: int
    gateway: str
    sensor: str
    kind: str
    time_ms: int
    quality: str
    values: Mapping[str, Any]
    historical: bool


@dataclass(frozen=True)
class ReadingQuery:
    sensors: Sequence[str] = ()
    gateway: str | None = None
    kind: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    after_id: int = 0
    limit: int = 1000


@dataclass(frozen=True)
class GatewayStatus:
    gateway: str
    online: bool
    boot_epoch: int | None
    last_seq: int | None  # highest seq received in the current epoch
    acked_seq: int | None  # highest seq of the current epoch up to which every seq is settled
    last_seen_ms: int | None
    missing_seqs: int  # seqs never received and not announced dropped, over all epochs
    info: Mapping[str, Any]
    dropped_seqs: int = 0  # seqs the gateway announced its outbox cap dropped (never received)
    refused_seqs: int = 0  # seqs refused for good (quarantined, the gateway told so)


@dataclass(frozen=True)
class LatestValue:
    """The newest live reading of one sensor (historical readings never replace it)."""

    sensor: str
    gateway: str
    kind: str
    time_ms: int
    quality: str
    value: float | None  # the kind's main number: weight_kg, temperature_c, humidity_pct, tag count
    values: Mapping[str, Any]


@dataclass(frozen=True)
class TagPresence:
    """An RFID tag as last seen by one reader (sensor)."""

    reader: str
    epc: str
    last_seen_ms: int  # device time of the newest inventory round that saw the tag
    present: bool  # in the reader's newest inventory round


@dataclass(frozen=True)
class Recorded:
    new_keys: frozenset[MessageKey]  # recorded by this call (not by an earlier one or another process)
    acks: Mapping[tuple[str, int], int]  # highest contiguous settled seq per touched (gateway, epoch)


class ReadingStore(Protocol):
    def append(self, messages: Sequence[AcceptedMessage]) -> int:
        """Durably store every reading and the latest state; idempotent per (gateway, epoch, seq, index)."""

    def query(self, query: ReadingQuery) -> list[StoredReading]: ...

    def latest(self, sensors: Sequence[str] = ()) -> list[LatestValue]:
        """Last value per sensor (every sensor when `sensors` is empty)."""

    def tags(self, reader: str) -> list[TagPresence]: ...

    def expire(self, before_ms: int) -> int:
        """Retention: drop (or downsample) readings with device time before `before_ms`."""

    def count(self) -> int: ...

    def close(self) -> None: ...


class IngestLedger(Protocol):
    """Which messages were stored, per-gateway seq progress, gateway state, quarantine."""

    def already_stored(self, keys: Sequence[MessageKey]) -> set[MessageKey]: ...

    def record(self, stored: Sequence[AcceptedMessage], quarantined: Sequence[QuarantinedMessage],
               refused: Sequence[tuple[MessageKey, str]] = (),
               dropped: Sequence[MessageKey] = ()) -> Recorded:
        """Commit, once per key even across processes (the database's key decides).
        `refused`: keys quarantined for good, with the reason; `dropped`: keys the gateway
        announced dropped (ignored when stored)."""

    def contiguous_seqs(self, epoch_keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]: ...

    def set_gateway_state(self, gateway: str, online: bool, epoch: int,
                          info: Mapping[str, Any], now_ms: int) -> None: ...

    def gateways(self) -> list[GatewayStatus]: ...

    def quarantined(self, limit: int) -> list[QuarantinedMessage]: ...

    def forged_since(self, after_id: int) -> list[UntrustedMessage]:
        """Messages quarantined as tampering (bad_signature, foreign_sensor), oldest first."""

    def last_quarantine_id(self) -> int: ...

    def close(self) -> None: ...


class SensorRegistry(Protocol):
    """Which gateway each registered sensor belongs to: a gateway may report only its own."""

    def owners(self, sensors: set[str]) -> Mapping[str, str]:
        """Sensor -> its gateway, for the registered ones among `sensors`."""


class AnySensor:
    """No registry: no sensor belongs to anyone, so none is foreign."""

    def owners(self, sensors: set[str]) -> Mapping[str, str]:
        return {}


@dataclass(frozen=True)
class InboundMessage:
    """One MQTT message as the broker adapter received it."""
    topic: str
    payload: bytes
    received_at_s: float


class MessageSink(Protocol):
    """What the broker adapter hands received messages to (the ingest service): it stores a
    batch durably and says what to acknowledge, before the adapter sends any PUBACK."""

    def ingest(self, inbound: Sequence[InboundMessage], now_s: float) -> Mapping[tuple[str, int], Ack]:
        """Store the batch; the acks to send per (gateway, epoch)."""

    def ack_messages(self, acks: Mapping[tuple[str, int], Ack]) -> list[tuple[str, bytes]]:
        """The (topic, payload) of each signed ack message for `acks`."""

    def gateway_state(self, message: InboundMessage) -> None: ...

    def housekeeping(self, now_s: float) -> None: ...
