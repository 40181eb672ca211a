"""Ports of bank webhooks: the endpoints and their outbox, the signing scheme, the HTTP
sender, the check of a target URL and the e-mail notifier, with the records that cross them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from backend.domain.notices import BankNotice


@dataclass(frozen=True)
class EndpointRecord:
    id: str
    lender: str
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_until_s: float | None
    event_types: tuple[str, ...] | None
    enabled: bool
    disabled_reason: str | None
    disabled_at_s: float | None
    created_at_s: float

    def signing_secrets(self, now_s: float) -> list[str]:
        """The current secret, and the previous one while a rotation overlaps."""
        if self.previous_secret and (self.previous_secret_until_s or 0) > now_s:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def wants(self, alert_type: str) -> bool:
        return self.event_types is None or alert_type in self.event_types


@dataclass(frozen=True)
class OutboxItem:
    id: int
    event_id: str
    event_type: str
    body: str
    attempts: int
    created_at_s: float
    endpoint: EndpointRecord


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    endpoint_id: str
    event_id: str
    attempt: int
    at_s: float
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at_s: float | None


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt came to, as the delivery log keeps it."""
    outcome: str  # delivered | http_error | network_error | blocked | gone
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    retry_after_s: float | None
    error: str | None           # no secrets, no bodies: a short reason
    duration_ms: float
    blocked: bool = False


class BlockedTarget(Exception):
    """The URL points at an address a webhook may not reach (or at nothing at all)."""


class WebhookEndpoints(Protocol):
    """The banks' registered endpoints and their delivery log."""

    def create(self, endpoint_id: str, lender: str, url: str, secret: str,
               event_types: Sequence[str] | None, now_s: float) -> EndpointRecord: ...

    def get(self, endpoint_id: str) -> EndpointRecord | None: ...

    def endpoints(self, lender: str | None = None) -> list[EndpointRecord]: ...

    def delete(self, endpoint_id: str, now_s: float) -> bool:
        """Gone for good; its pending deliveries are cancelled."""

    def rotate(self, endpoint_id: str, new_secret: str, now_s: float, overlap_s: float) -> bool:
        """`new_secret` signs from now; the current one too for `overlap_s`."""

    def deliveries(self, endpoint_id: str, limit: int = 100, offset: int = 0) -> list[DeliveryRecord]:
        """Every attempt, newest first."""

    def enqueue_ping(self, endpoint_id: str, event_id: str, now_s: float) -> None:
        """A test event (`com.pledgewatch.ping`) for this endpoint alone, due now."""

    def requeue(self, endpoint_id: str, event_id: str, now_s: float) -> bool:
        """Send an event this endpoint was sent (or failed to be sent) again, now, under the
        same webhook-id; False when the endpoint never had it."""


class WebhookOutbox(Protocol):
    """The relay's side: due rows, leased; every attempt logged."""

    def claim_due(self, now_s: float, lease_s: float, limit: int) -> list[OutboxItem]:
        """Lease up to `limit` due rows to this caller (safe with several relays)."""

    def record_attempt(self, item: OutboxItem, attempt: Attempt, state: str,
                       next_attempt_at_s: float | None, now_s: float) -> None:
        """Log one attempt and move the row on: pending with a new due time, or done
        (delivered, cancelled, failed)."""

    def disable(self, endpoint_id: str, reason: str, now_s: float) -> None:
        """The endpoint gets nothing more; its pending rows are cancelled."""

    def next_due_s(self) -> float | None: ...

    def enqueue_reminders(self, now_s: float, after_s: float) -> int:
        """A reminder event per critical alert still open `after_s` after it opened or after
        its last reminder; 0 when another relay queued them first. Returns rows written."""


class WebhookSigner(Protocol):
    """The signing scheme banks verify: it mints endpoint secrets and signs each attempt."""

    def new_secret(self) -> str: ...

    def headers(self, secrets: Sequence[str], event_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
        """The headers of one attempt, signed with each of `secrets` (and `v1a` with our key)."""

    def public_keys(self) -> list[str]:
        """The `whpk_...` keys whose `v1a` signatures a bank may check (none: HMAC only)."""


class WebhookSender(Protocol):
    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> SendResult: ...


class TargetCheck(Protocol):
    def check(self, url: str) -> None:
        """Raises BlockedTarget, saying why, when a webhook may not go to `url`."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str                          # e.g. application/pdf
    data: bytes


class Notifier(Protocol):
    """Short plain-text notices to people, with files attached (the daily report); best effort."""

    def send(self, to: Sequence[str], subject: str, text: str, attachments: Sequence[Attachment] = ()) -> bool: ...


class NoticeOutbox(Protocol):
    """Where a service leaves the notices a lender is owed (delivered like alerts)."""

    def notify(self, notices: Sequence[BankNotice]) -> int:
        """Queue each notice for its lender's endpoints that want its topic; rows written."""
