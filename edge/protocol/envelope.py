"""The messages as values (what the codec reads and writes), and the limits every side keeps."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 256 * 1024
MAX_READINGS_PER_MESSAGE = 1000
READING_KINDS = ("rfid", "weight", "temperature", "humidity")
QUALITIES = ("good", "uncertain", "bad")
MAX_SEQS_PER_NOTICE = 100_000  # what one ack or drop notice may name (bounds the work it causes)
COMMANDS = ("set_interval", "rebirth", "rotate_key")
COMMAND_STATUSES = ("ok", "refused", "failed")


@dataclass(frozen=True)
class Reading:
    sensor: str
    kind: str
    time_ms: int  # device time, ms since the Unix epoch
    values: Mapping[str, Any]
    quality: str = "good"
    clock_synced: bool = True  # False: taken before the gateway's clock was synced
    error: str | None = None  # device error code when quality is "bad"

    def to_json(self) -> dict[str, Any]:
        out = {"sensor": self.sensor, "kind": self.kind, "time_ms": self.time_ms,
               "values": dict(self.values), "quality": self.quality}
        if not self.clock_synced:
            out["clock_synced"] = False
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class Signature:
    key_id: str  # fingerprint of the public key that signed
    value: bytes


@dataclass(frozen=True)
class Envelope:
    gateway: str
    epoch: int  # boot epoch, persisted by the gateway, +1 per start
    seq: int  # 1, 2, 3 ... within an epoch
    sent_at_ms: int
    readings: Sequence[Reading]  # a tuple from codec.decode; a lazy wire_fast.Rows from the fast path
    signature: Signature | None = None
    # The exact bytes the signature covers (set by decode/encode).
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)

    def body(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "gateway": self.gateway, "epoch": self.epoch,
                "seq": self.seq, "sent_at_ms": self.sent_at_ms,
                "readings": [r.to_json() for r in self.readings]}


@dataclass(frozen=True)
class Ack:
    """Backend -> gateway. A legacy ack (`stored` None) says only: every seq <= acked_seq is
    stored. A ranged ack names the seqs this answer settles: `stored` (durably, now or
    before), `refused` (quarantined for good: seq -> reason; keep it, do not resend) and
    `dropped` (announced by the gateway and never received). `acked_seq` is then the
    highest seq up to which every seq is settled. Ranged acks are signed with the
    backend's command key (ACK_SIGNING_CONTEXT) when the backend has one."""

    gateway: str
    epoch: int
    acked_seq: int
    stored: tuple[int, ...] | None = None
    refused: Mapping[int, str] = field(default_factory=dict)
    dropped: tuple[int, ...] = ()
    signature: Signature | None = field(default=None, compare=False)
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)

    @property
    def ranged(self) -> bool:
        return self.stored is not None


@dataclass(frozen=True)
class DropNotice:
    """Gateway -> backend, signed with the gateway's key (DROPS_SIGNING_CONTEXT): its outbox
    size cap dropped these seqs of `epoch` before the backend acknowledged them. Sent again
    until a ranged ack settles each seq (as stored, when it did arrive, or as dropped)."""

    gateway: str
    epoch: int
    seqs: tuple[int, ...]
    at_ms: int
    signature: Signature | None = None
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True)
class GatewayState:
    gateway: str
    online: bool
    epoch: int
    info: Mapping[str, Any]  # birth only: firmware, drivers, key id, clock sync, counters


@dataclass(frozen=True)
class Heartbeat:
    gateway: str
    epoch: int
    at_ms: int  # gateway clock
    info: Mapping[str, Any]  # outbox_depth, dropped_readings, readings_total, clock_synced, last_seq


@dataclass(frozen=True)
class Command:
    """Backend -> gateway, signed with the backend's command key (COMMAND_SIGNING_CONTEXT).

    Replay guard: a gateway runs a command only inside [issued_at_ms, expires_at_ms]
    (with a small clock allowance), only if that window is short, and only once per id
    (it remembers ids until they expire).
    """

    id: str
    gateway: str
    name: str  # one of COMMANDS
    args: Mapping[str, Any]
    issued_at_ms: int
    expires_at_ms: int
    signature: Signature | None = None
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)


def command_window_error(command: Command, now_ms: int, max_ttl_ms: int, skew_ms: int) -> str | None:
    """Why `command` may not run now (None: it may): expired, not yet valid, or too long-lived."""
    if command.expires_at_ms - command.issued_at_ms > max_ttl_ms:
        return "ttl_too_long"
    if command.expires_at_ms <= command.issued_at_ms:
        return "expired"
    if now_ms >= command.expires_at_ms:
        return "expired"
    if command.issued_at_ms > now_ms + skew_ms:
        return "not_yet_valid"
    return None


@dataclass(frozen=True)
class CommandResult:
    """Gateway -> backend, signed with the gateway's key (COMMAND_RESULT_SIGNING_CONTEXT).

    After `rotate_key` the result is signed with the OLD key and `result` carries the new
    public key: the proof, for whoever trusts the old key, that the new one is the gateway's.
    """

    gateway: str
    id: str
    command: str
    status: str  # one of COMMAND_STATUSES
    detail: str
    result: Mapping[str, Any]
    at_ms: int
    signature: Signature | None = None
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)
