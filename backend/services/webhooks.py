"""Bank webhook endpoints: register (secret shown once), list, remove, rotate the secret,
read the delivery log; and the retry policy the relay follows."""
from __future__ import annotations

import random
import secrets as random_secrets
from typing import Callable, Sequence

from backend.domain.alerts import ALERT_TYPES
from backend.domain.notices import NOTICE_TOPICS
from backend.ports.webhooks import (
    BlockedTarget,
    DeliveryRecord,
    EndpointRecord,
    TargetCheck,
    WebhookEndpoints,
    WebhookSigner,
)


class WebhookError(ValueError):
    """The request cannot be honoured; the message is for the caller (422)."""


def next_delay_s(attempts_made: int, retry_after_s: float | None, schedule_s: Sequence[float],
                 jitter_fraction: float, max_retry_after_s: float, rng: random.Random) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones; None: give up.

    The schedule's delay, jittered by ±jitter_fraction so a fleet of retries spreads out;
    a longer Retry-After from the receiver wins, capped at max_retry_after_s."""
    if attempts_made > len(schedule_s):
        return None
    delay_s = schedule_s[attempts_made - 1] * rng.uniform(1 - jitter_fraction, 1 + jitter_fraction)
    if retry_after_s is not None:
        delay_s = max(delay_s, min(retry_after_s, max_retry_after_s))
    return delay_s


class WebhookService:
    def __init__(self, *, store: WebhookEndpoints, signer: WebhookSigner, targets: TargetCheck,
                 clock: Callable[[], float], rotation_overlap_s: float) -> None:
        self.store, self.signer, self.targets = store, signer, targets
        self.clock, self.rotation_overlap_s = clock, rotation_overlap_s

    def public_keys(self) -> list[str]:
        """The `whpk_` keys of our `v1a` webhook signatures (published for the banks)."""
        return self.signer.public_keys()

    def register(self, lender: str, url: str, event_types: Sequence[str] | None) -> tuple[EndpointRecord, str]:
        """A new endpoint and its secret (the only time the secret leaves the backend)."""
        unknown = sorted(set(event_types or ()) - {*ALERT_TYPES, *NOTICE_TOPICS})
        if unknown:
            raise WebhookError(f"unknown event types: {', '.join(unknown)}")
        if event_types is not None and not event_types:
            raise WebhookError("event_types is empty: omit it to receive every type")
        try:
            self.targets.check(url)
        except BlockedTarget as exc:
            raise WebhookError(f"url refused: {exc}") from exc
        secret = self.signer.new_secret()
        endpoint_id = f"wh-{random_secrets.token_hex(8)}"
        record = self.store.create(endpoint_id, lender, url, secret,
                                   sorted(set(event_types)) if event_types is not None else None, self.clock())
        return record, secret

    def endpoints(self, lender: str | None) -> list[EndpointRecord]:
        return self.store.endpoints(lender)

    def visible(self, endpoint_id: str, lender: str | None) -> EndpointRecord | None:
        """The endpoint if it exists and `lender` (None: staff) may see it."""
        record = self.store.get(endpoint_id)
        if record is None or (lender is not None and record.lender != lender):
            return None
        return record

    def remove(self, endpoint_id: str) -> bool:
        return self.store.delete(endpoint_id, self.clock())

    def rotate_secret(self, endpoint_id: str) -> str:
        secret = self.signer.new_secret()
        self.store.rotate(endpoint_id, secret, self.clock(), self.rotation_overlap_s)
        return secret

    def ping(self, endpoint_id: str) -> str:
        """Queue a test event for the endpoint; its id (the relay sends it within a poll)."""
        event_id = f"ping-{random_secrets.token_hex(8)}"
        self.store.enqueue_ping(endpoint_id, event_id, self.clock())
        return event_id

    def redeliver(self, endpoint_id: str, event_id: str) -> None:
        """Send one of the endpoint's events again, now, under the same webhook-id."""
        if not self.store.requeue(endpoint_id, event_id, self.clock()):
            raise WebhookError(f"endpoint {endpoint_id} has no event {event_id!r}")

    def deliveries(self, endpoint_id: str, limit: int, offset: int) -> list[DeliveryRecord]:
        return self.store.deliveries(endpoint_id, limit, offset)
