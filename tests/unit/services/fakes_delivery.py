"""In-memory fakes of the delivery ports (backend/ports/webhooks.py, access.py, commands.py):
what the services of the outward side need, without a database, a network or a broker.
They keep the adapters' contracts (the docstrings of the ports), nothing more."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.ports.access import ApiKeyRecord
from backend.ports.commands import CommandTransportError, RotatedKey
from backend.ports.webhooks import (
    Attempt,
    BlockedTarget,
    DeliveryRecord,
    EndpointRecord,
    OutboxItem,
    SendResult,
)
from edge import protocol


class Clock:
    def __init__(self, now_s: float = 1_700_000_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


# -- webhooks -------------------------------------------------------------------------

@dataclass
class Row:
    """One outbox row as the fake keeps it."""
    id: int
    event_id: str
    event_type: str
    body: str
    endpoint_id: str
    created_at_s: float
    next_attempt_at_s: float
    state: str = "pending"  # pending | delivered | cancelled | failed
    attempts: int = 0
    lease_until_s: float | None = None


class FakeWebhooks:
    """WebhookEndpoints and WebhookOutbox in one, as SqlWebhooks is."""

    def __init__(self) -> None:
        self.records: dict[str, EndpointRecord] = {}
        self.deleted: set[str] = set()
        self.rows: list[Row] = []
        self.log: list[DeliveryRecord] = []
        self.reminders_to_write = 0  # what enqueue_reminders answers
        self.reminder_calls: list[tuple[float, float]] = []

    # -- endpoints
    def create(self, endpoint_id: str, lender: str, url: str, secret: str,
               event_types: Sequence[str] | None, now_s: float) -> EndpointRecord:
        self.records[endpoint_id] = EndpointRecord(
            endpoint_id, lender, url, secret, None, None, tuple(event_types) if event_types is not None else None,
            True, None, None, now_s)
        return self.records[endpoint_id]

    def get(self, endpoint_id: str) -> EndpointRecord | None:
        return None if endpoint_id in self.deleted else self.records.get(endpoint_id)

    def endpoints(self, lender: str | None = None) -> list[EndpointRecord]:
        return [r for r in self.records.values()
                if r.id not in self.deleted and (lender is None or r.lender == lender)]

    def delete(self, endpoint_id: str, now_s: float) -> bool:
        if self.get(endpoint_id) is None:
            return False
        self.deleted.add(endpoint_id)
        self.records[endpoint_id] = replace(self.records[endpoint_id], enabled=False)
        self._cancel_pending(endpoint_id)
        return True

    def rotate(self, endpoint_id: str, new_secret: str, now_s: float, overlap_s: float) -> bool:
        record = self.records.get(endpoint_id)
        if record is None:
            return False
        self.records[endpoint_id] = replace(record, secret=new_secret, previous_secret=record.secret,
                                            previous_secret_until_s=now_s + overlap_s)
        return True

    def deliveries(self, endpoint_id: str, limit: int = 100, offset: int = 0) -> list[DeliveryRecord]:
        mine = [d for d in reversed(self.log) if d.endpoint_id == endpoint_id]
        return mine[offset:offset + limit]

    # -- the outbox
    def enqueue(self, endpoint_id: str, event_id: str, at_s: float, event_type: str = "com.pledgewatch.x.opened",
                body: str = '{"n":1}') -> Row:
        """A row as the alert's transaction writes it (test set-up)."""
        row = Row(len(self.rows) + 1, event_id, event_type, body, endpoint_id, at_s, at_s)
        self.rows.append(row)
        return row

    def row(self, event_id: str) -> Row:
        return next(r for r in self.rows if r.event_id == event_id)

    def claim_due(self, now_s: float, lease_s: float, limit: int) -> list[OutboxItem]:
        due = sorted((r for r in self.rows if r.state == "pending" and r.next_attempt_at_s <= now_s
                      and (r.lease_until_s is None or r.lease_until_s < now_s)),
                     key=lambda r: (r.next_attempt_at_s, r.id))[:limit]
        for row in due:
            row.lease_until_s = now_s + lease_s
        return [OutboxItem(r.id, r.event_id, r.event_type, r.body, r.attempts, r.created_at_s,
                           self.records[r.endpoint_id]) for r in due]

    def record_attempt(self, item: OutboxItem, attempt: Attempt, state: str,
                       next_attempt_at_s: float | None, now_s: float) -> None:
        self.log.append(DeliveryRecord(len(self.log) + 1, item.endpoint.id, item.event_id, item.attempts + 1, now_s,
                                       attempt.outcome, attempt.status_code, attempt.error, attempt.duration_ms,
                                       next_attempt_at_s))
        row = next(r for r in self.rows if r.id == item.id)
        if row.state != "pending":  # cancelled meanwhile: the attempt is logged, the row stays
            return
        row.attempts, row.state, row.lease_until_s = item.attempts + 1, state, None
        if state == "pending":
            row.next_attempt_at_s = next_attempt_at_s

    def disable(self, endpoint_id: str, reason: str, now_s: float) -> None:
        self.records[endpoint_id] = replace(self.records[endpoint_id], enabled=False, disabled_reason=reason,
                                            disabled_at_s=now_s)
        self._cancel_pending(endpoint_id)

    def _cancel_pending(self, endpoint_id: str) -> None:
        for row in self.rows:
            if row.endpoint_id == endpoint_id and row.state == "pending":
                row.state, row.lease_until_s = "cancelled", None

    def next_due_s(self) -> float | None:
        return min((r.next_attempt_at_s for r in self.rows if r.state == "pending"), default=None)

    def enqueue_reminders(self, now_s: float, after_s: float) -> int:
        self.reminder_calls.append((now_s, after_s))
        return self.reminders_to_write


class FakeSigner:
    """Secrets `whsec_test-<n>`; a signature names the secret, the id and the timestamp it signs."""

    def __init__(self) -> None:
        self.made = 0

    def new_secret(self) -> str:
        self.made += 1
        return f"whsec_test-{self.made}"

    def headers(self, secrets: Sequence[str], event_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
        return {"webhook-id": event_id, "webhook-timestamp": str(timestamp_s),
                "webhook-signature": " ".join(f"{s}/{event_id}/{timestamp_s}" for s in secrets)}


@dataclass(frozen=True)
class Sent:
    url: str
    headers: Mapping[str, str]
    body: bytes


class FakeSender:
    """Answers from a script, one SendResult per send (the last one again when it runs out)."""

    def __init__(self, *answers: SendResult) -> None:
        self.answers = list(answers) or [answered(200)]
        self.sent: list[Sent] = []

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> SendResult:
        self.sent.append(Sent(url, dict(headers), body))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def answered(status_code: int | None, retry_after_s: float | None = None, blocked: bool = False) -> SendResult:
    error = None if status_code is not None and 200 <= status_code < 300 else \
        ("blocked" if blocked else f"HTTP {status_code}" if status_code else "ConnectError")
    return SendResult(status_code, retry_after_s, error, 12.5, blocked)


class FakeTargets:
    """Refuses URLs on the hosts named; anything else may be reached."""

    def __init__(self, *refused_hosts: str) -> None:
        self.refused_hosts = set(refused_hosts)
        self.checked: list[str] = []

    def check(self, url: str) -> None:
        self.checked.append(url)
        if any(f"//{host}" in url for host in self.refused_hosts):
            raise BlockedTarget("resolves to a loopback, private or link-local address")


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[list[str], str, str]] = []
        self.attached: list[list] = []  # per message sent, its attachments

    def send(self, to: Sequence[str], subject: str, text: str, attachments: Sequence = ()) -> bool:
        self.sent.append((list(to), subject, text))
        self.attached.append(list(attachments))
        return True


# -- access ---------------------------------------------------------------------------

class FakeApiKeys:
    def __init__(self) -> None:
        self.records: dict[str, ApiKeyRecord] = {}

    def add(self, record: ApiKeyRecord) -> None:
        self.records[record.id] = record

    def get(self, key_id: str) -> ApiKeyRecord | None:
        return self.records.get(key_id)

    def all(self) -> list[ApiKeyRecord]:
        return sorted(self.records.values(), key=lambda r: r.created_at_s)

    def revoke(self, key_id: str, at_s: float) -> bool:
        record = self.records.get(key_id)
        if record is None or record.revoked_at_s is not None:
            return False
        self.records[key_id] = replace(record, revoked_at_s=at_s)
        return True


# -- commands -------------------------------------------------------------------------

class FakeRotatedKeyStore:
    def __init__(self) -> None:
        self.keys: list[RotatedKey] = []
        self.added_at: list[float] = []
        self.reads = 0

    def add(self, gateway: str, key_id: str, public_key_pem: str, at_s: float) -> bool:
        if any(k.gateway == gateway and k.key_id == key_id for k in self.keys):
            return False
        self.keys.append(RotatedKey(gateway, key_id, public_key_pem))
        self.added_at.append(at_s)
        return True

    def all(self) -> list[RotatedKey]:
        self.reads += 1
        return list(self.keys)


def ok(command: protocol.Command) -> protocol.CommandResult:
    return protocol.CommandResult(command.gateway, command.id, command.name, "ok", "", {}, command.issued_at_ms)


class FakeGateway:
    """A CommandPublisher whose other end is a gateway: it decodes what it is sent and
    answers with `answer(command)` (None: no answer in time), signed with `key`."""

    def __init__(self, key: Ed25519PrivateKey,
                 answer: Callable[[protocol.Command], protocol.CommandResult | None] = ok) -> None:
        self.signer, self.answer = protocol.Signer(key), answer
        self.received: list[protocol.Command] = []
        self.failure: CommandTransportError | None = None

    def send(self, gateway: str, command_id: str, wire: bytes, wait_s: float) -> bytes | None:
        if self.failure is not None:
            raise self.failure
        command = protocol.decode_command(wire, protocol.topic(gateway, "cmd"))
        assert command.id == command_id
        self.received.append(command)
        result = self.answer(command)
        return None if result is None else protocol.encode_command_result(result, self.signer)
