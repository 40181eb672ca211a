"""The delivery relay: empties the webhook outbox into the banks' endpoints.

Each round it queues reminders of unacknowledged critical alerts, leases the due outbox
rows, sends each one signed for this attempt, logs the attempt and moves the row on:

- 2xx: delivered.
- 410 Gone: the endpoint is disabled, its pending rows cancelled, the admins told.
- anything else (5xx, 429, other 4xx, network error, a blocked address): retried on the
  schedule (WebhookSettings.retry_schedule_s, jittered), never sooner than Retry-After;
  after the last retry the row is failed.

Delivery is at least once: a relay killed after the bank answered but before the row was
marked leaves a lease that expires, and the event goes again under the same webhook-id,
which is how a bank de-duplicates. Runs as a thread of the monitor process
(`RelayLoop`), or on its own: `pledgewatch relay --config FILE` (bootstrap.run_relay).
"""
from __future__ import annotations

import logging
import random
from typing import Callable

from backend.metrics import Metrics
from backend.ports.webhooks import (
    Attempt,
    Notifier,
    OutboxItem,
    SendResult,
    WebhookOutbox,
    WebhookSender,
    WebhookSigner,
)
from backend.services.background import WakeableLoop
from backend.services.webhooks import next_delay_s
from backend.services.webhooks_config import WebhookSettings

log = logging.getLogger("pledgewatch.webhooks")


def outcome_of(result: SendResult) -> str:
    if result.blocked:
        return "blocked"
    if result.status_code is None:
        return "network_error"
    if 200 <= result.status_code < 300:
        return "delivered"
    return "gone" if result.status_code == 410 else "http_error"


class WebhookRelay:
    def __init__(self, *, outbox: WebhookOutbox, sender: WebhookSender, signer: WebhookSigner,
                 settings: WebhookSettings, metrics: Metrics, clock: Callable[[], float],
                 rng: random.Random | None = None, notifier: Notifier | None = None) -> None:
        self.outbox, self.sender, self.signer = outbox, sender, signer
        self.settings, self.metrics, self.clock = settings, metrics, clock
        self.rng, self.notifier = rng or random.Random(), notifier

    def run_once(self) -> int:
        """One round: reminders, then every due row. Returns how many attempts were made."""
        self._queue_reminders()
        attempts = 0
        while True:
            items = self.outbox.claim_due(self.clock(), self.settings.lease_s, self.settings.batch_size)
            for item in items:
                self.deliver(item)
            attempts += len(items)
            if len(items) < self.settings.batch_size:
                return attempts

    def deliver(self, item: OutboxItem) -> str:
        now_s = self.clock()
        body = item.body.encode()
        headers = self.signer.headers(item.endpoint.signing_secrets(now_s), item.event_id, int(now_s), body)
        result = self.sender.send(item.endpoint.url, headers, body)
        outcome = outcome_of(result)
        state, next_at_s = self._next_state(item, outcome, result, now_s)
        self.outbox.record_attempt(item, Attempt(outcome, result.status_code, result.error, result.duration_ms),
                                   state, next_at_s, now_s)
        self.metrics.webhook_deliveries.labels(outcome).inc()
        log.info("webhook %s %s to %s (%s): %s, HTTP %s, attempt %d", item.event_type, item.event_id,
                 item.endpoint.id, item.endpoint.lender, outcome, result.status_code or "-", item.attempts + 1,
                 extra={"webhook": {"event_type": item.event_type, "event_id": item.event_id, "outcome": outcome,
                                    "endpoint": item.endpoint.id, "lender": item.endpoint.lender,
                                    "status_code": result.status_code, "attempt": item.attempts + 1,
                                    "duration_ms": result.duration_ms}})
        if outcome == "gone":
            self._disable(item, now_s)
        elif state == "failed":
            log.warning("webhook %s to endpoint %s failed for good after %d attempts", item.event_id,
                        item.endpoint.id, item.attempts + 1)
        return outcome

    def _next_state(self, item: OutboxItem, outcome: str, result: SendResult,
                    now_s: float) -> tuple[str, float | None]:
        if outcome == "delivered":
            return "delivered", None
        if outcome == "gone":
            return "cancelled", None
        s = self.settings
        delay_s = next_delay_s(item.attempts + 1, result.retry_after_s, s.retry_schedule_s, s.jitter_fraction,
                               s.max_retry_after_s, self.rng)
        return ("failed", None) if delay_s is None else ("pending", now_s + delay_s)

    def _disable(self, item: OutboxItem, now_s: float) -> None:
        endpoint = item.endpoint
        reason = f"the endpoint answered 410 Gone to {item.event_id}; disabled"
        self.outbox.disable(endpoint.id, reason, now_s)
        log.warning("webhook endpoint %s of %s disabled: 410 Gone", endpoint.id, endpoint.lender)
        email = self.settings.email
        if self.notifier and email and email.admins:
            self.notifier.send(email.admins, f"PledgeWatch: webhook endpoint {endpoint.id} disabled",
                               f"The endpoint {endpoint.id} of lender {endpoint.lender} answered 410 Gone "
                               f"and was disabled. Its pending deliveries were cancelled.\n"
                               f"Register a new endpoint to resume: POST /api/v1/webhooks.\n")

    def _queue_reminders(self) -> None:
        if self.settings.renotify_after_s <= 0:
            return
        written = self.outbox.enqueue_reminders(self.clock(), self.settings.renotify_after_s)
        email = self.settings.email
        if written and self.notifier and email and email.reminders_to:
            self.notifier.send(email.reminders_to, "PledgeWatch: critical alerts still unacknowledged",
                               f"{written} reminder(s) of unacknowledged critical alerts were sent to banks.\n")

    def seconds_until_due(self) -> float:
        due_s = self.outbox.next_due_s()
        return self.settings.poll_interval_s if due_s is None else max(0.0, due_s - self.clock())


class RelayLoop(WakeableLoop):
    """Runs the relay on a named thread: every poll interval, sooner when a row falls due or
    when woken (new outbox rows)."""

    def __init__(self, relay: WebhookRelay) -> None:
        super().__init__(name="webhook-relay", every_s=relay.settings.poll_interval_s)
        self.relay = relay

    def round(self) -> float:
        self.relay.run_once()
        return min(self.relay.settings.poll_interval_s, self.relay.seconds_until_due())

