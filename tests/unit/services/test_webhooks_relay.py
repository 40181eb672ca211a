"""The delivery relay on fakes: what each answer of a bank does to the outbox row, the
endpoint and the people told; retries on the schedule, Retry-After, giving up."""
from __future__ import annotations

import random

import pytest
from fakes_delivery import Clock, FakeNotifier, FakeSender, FakeSigner, FakeWebhooks, answered

from backend.metrics import Metrics
from backend.services.webhooks_config import WebhookSettings
from backend.services.webhooks_relay import WebhookRelay

SCHEDULE_S = [5, 30, 120]


class Rig:
    def __init__(self, *answers, **settings) -> None:
        self.clock, self.store, self.sender = Clock(), FakeWebhooks(), FakeSender(*answers)
        self.notifier, self.metrics = FakeNotifier(), Metrics()
        self.settings = WebhookSettings(**{"retry_schedule_s": SCHEDULE_S, "jitter_fraction": 0,
                                           "renotify_after_s": 0, "batch_size": 50,
                                           "email": {"host": "mail.test", "admins": ["ops@pw.test"],
                                                     "reminders_to": ["desk@pw.test"]}, **settings})
        self.relay = WebhookRelay(outbox=self.store, sender=self.sender, signer=FakeSigner(), settings=self.settings,
                                  metrics=self.metrics, clock=self.clock, rng=random.Random(3),
                                  notifier=self.notifier)
        self.endpoint = self.store.create("wh-1", "bank-north", "https://bank.test/hook", "whsec_a", None,
                                          self.clock())

    def later(self, seconds: float) -> None:
        self.clock.now_s += seconds

    def counted(self, outcome: str) -> float:
        return self.metrics.registry.get_sample_value("pw_webhook_deliveries_total", {"outcome": outcome}) or 0


def test_a_2xx_is_delivered_once_signed_for_this_attempt():
    rig = Rig(answered(204))
    rig.store.enqueue("wh-1", "al-1.opened", rig.clock(), body='{"id":"al-1"}')
    rig.later(2)
    assert rig.relay.run_once() == 1
    [sent] = rig.sender.sent
    assert (sent.url, sent.body) == ("https://bank.test/hook", b'{"id":"al-1"}')
    assert sent.headers["webhook-signature"] == f"whsec_a/al-1.opened/{int(rig.clock())}"
    assert rig.store.row("al-1.opened").state == "delivered"
    [logged] = rig.store.deliveries("wh-1")
    assert (logged.outcome, logged.status_code, logged.attempt, logged.next_attempt_at_s) == ("delivered", 204, 1, None)
    assert rig.counted("delivered") == 1
    rig.later(1000)
    assert rig.relay.run_once() == 0 and len(rig.sender.sent) == 1


def test_while_a_secret_rotation_overlaps_both_secrets_sign():
    rig = Rig()
    rig.store.rotate("wh-1", "whsec_b", rig.clock(), overlap_s=60)
    rig.store.enqueue("wh-1", "al-1.opened", rig.clock())
    rig.relay.run_once()
    assert rig.sender.sent[0].headers["webhook-signature"].split() == [
        f"whsec_b/al-1.opened/{int(rig.clock())}", f"whsec_a/al-1.opened/{int(rig.clock())}"]
    rig.later(61)
    rig.store.enqueue("wh-1", "al-2.opened", rig.clock())
    rig.relay.run_once()
    assert rig.sender.sent[1].headers["webhook-signature"] == f"whsec_b/al-2.opened/{int(rig.clock())}"


def test_410_disables_the_endpoint_cancels_its_pending_rows_and_tells_the_admins():
    rig = Rig(answered(410))
    other = rig.store.create("wh-2", "bank-north", "https://other.test/hook", "whsec_c", None, rig.clock())
    rig.store.enqueue("wh-1", "al-1.opened", rig.clock())
    rig.store.enqueue("wh-1", "al-2.opened", rig.clock() + 100)  # not due yet: cancelled all the same
    rig.store.enqueue(other.id, "al-1.opened-2", rig.clock() + 100)
    assert rig.relay.run_once() == 1
    assert [r.state for r in rig.store.rows] == ["cancelled", "cancelled", "pending"]
    endpoint = rig.store.get("wh-1")
    assert not endpoint.enabled and "410 Gone" in endpoint.disabled_reason and endpoint.disabled_at_s == rig.clock()
    [(to, subject, text)] = rig.notifier.sent
    assert to == ["ops@pw.test"] and "wh-1" in subject and "bank-north" in text
    assert rig.store.deliveries("wh-1")[0].outcome == "gone" and rig.counted("gone") == 1
    rig.later(1000)
    assert rig.relay.run_once() == 1 and rig.sender.sent[-1].url == "https://other.test/hook"


def test_a_5xx_is_retried_on_the_schedule_and_fails_after_the_last_retry():
    rig = Rig(answered(503))
    rig.store.enqueue("wh-1", "al-1.opened", rig.clock())
    for delay_s in SCHEDULE_S:
        start_s = rig.clock()
        assert rig.relay.run_once() == 1
        assert rig.store.row("al-1.opened").next_attempt_at_s == start_s + delay_s
        rig.later(delay_s - 0.5)
        assert rig.relay.run_once() == 0  # not due yet
        rig.later(0.5)
    assert rig.relay.run_once() == 1  # the fourth attempt: no retry left
    assert rig.store.row("al-1.opened").state == "failed"
    assert [d.attempt for d in rig.store.deliveries("wh-1")] == [4, 3, 2, 1]
    assert rig.store.deliveries("wh-1")[0].next_attempt_at_s is None
    assert rig.counted("http_error") == 4
    rig.later(10 ** 6)
    assert rig.relay.run_once() == 0 and len(rig.sender.sent) == 4
    assert rig.store.get("wh-1").enabled and rig.notifier.sent == []  # failing is not gone


def test_a_longer_retry_after_wins_up_to_its_cap_and_a_shorter_one_does_not():
    rig = Rig(answered(429, retry_after_s=100), answered(503, retry_after_s=1), answered(503, retry_after_s=10 ** 6),
              max_retry_after_s=3600)
    rig.store.enqueue("wh-1", "al-1.opened", rig.clock())
    waits = []
    for _ in range(3):
        start_s = rig.clock()
        assert rig.relay.run_once() == 1
        waits.append(rig.store.row("al-1.opened").next_attempt_at_s - start_s)
        rig.clock.now_s = rig.store.row("al-1.opened").next_attempt_at_s
    assert waits == [100, 30, 3600]


def test_the_delay_is_jittered_within_its_fraction():
    rig = Rig(answered(500), jitter_fraction=0.2, retry_schedule_s=[100])
    for n in range(20):
        rig.store.enqueue("wh-1", f"al-{n}.opened", rig.clock())
    rig.relay.run_once()
    delays = {r.next_attempt_at_s - rig.clock() for r in rig.store.rows}
    assert all(80 <= d <= 120 for d in delays) and len(delays) > 10


@pytest.mark.parametrize("answer, outcome", [(answered(None), "network_error"),
                                             (answered(None, blocked=True), "blocked"),
                                             (answered(404), "http_error")])
def test_no_answer_a_blocked_address_and_other_4xx_are_retried(answer, outcome):
    rig = Rig(answer)
    rig.store.enqueue("wh-1", "al-1.opened", rig.clock())
    rig.relay.run_once()
    assert rig.store.deliveries("wh-1")[0].outcome == outcome
    assert rig.store.row("al-1.opened").state == "pending" and rig.store.get("wh-1").enabled


def test_a_round_empties_every_due_row_batch_after_batch():
    rig = Rig(batch_size=2)
    for n in range(5):
        rig.store.enqueue("wh-1", f"al-{n}.opened", rig.clock())
    rig.store.enqueue("wh-1", "al-later.opened", rig.clock() + 60)
    assert rig.relay.run_once() == 5
    assert [s.headers["webhook-id"] for s in rig.sender.sent] == [f"al-{n}.opened" for n in range(5)]
    assert rig.relay.seconds_until_due() == 60


def test_reminders_are_queued_each_round_and_told_by_mail_only_when_some_were_written():
    rig = Rig(renotify_after_s=1800)
    rig.relay.run_once()
    assert rig.store.reminder_calls == [(rig.clock(), 1800)] and rig.notifier.sent == []
    rig.store.reminders_to_write = 2
    rig.relay.run_once()
    [(to, _, text)] = rig.notifier.sent
    assert to == ["desk@pw.test"] and text.startswith("2 reminder(s)")


def test_no_reminders_when_renotify_is_off():
    rig = Rig(renotify_after_s=0)
    rig.store.reminders_to_write = 3
    rig.relay.run_once()
    assert rig.store.reminder_calls == [] and rig.notifier.sent == []
