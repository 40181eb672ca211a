"""WebhookService on fakes: what a registration refuses, who sees which endpoint, secret
rotation; and the retry policy (next_delay_s)."""
from __future__ import annotations

import random

import pytest
from fakes_delivery import Clock, FakeSigner, FakeTargets, FakeWebhooks

from backend.services.webhooks import WebhookError, WebhookService, next_delay_s


@pytest.fixture
def hooks() -> WebhookService:
    return WebhookService(store=FakeWebhooks(), signer=FakeSigner(), targets=FakeTargets("10.0.0.8"), clock=Clock(),
                          rotation_overlap_s=3600)


def test_register_stores_the_endpoint_and_hands_out_its_secret_once(hooks):
    record, secret = hooks.register("bank-north", "https://bank.test/hook", ["margin_call", "margin_call", "liquidation"])
    assert secret == "whsec_test-1" and record.secret == secret
    assert record.id.startswith("wh-") and record.lender == "bank-north" and record.enabled
    assert record.event_types == ("liquidation", "margin_call") and record.created_at_s == hooks.clock()
    assert hooks.store.get(record.id) == record
    every, _ = hooks.register("bank-north", "https://bank.test/all", None)
    assert every.event_types is None and every.id != record.id


@pytest.mark.parametrize("event_types, why", [(["margin_call", "nonsense"], "unknown event types: nonsense"),
                                              ([], "event_types is empty")])
def test_register_refuses_unknown_or_no_event_types(hooks, event_types, why):
    with pytest.raises(WebhookError, match=why):
        hooks.register("bank-north", "https://bank.test/hook", event_types)
    assert hooks.store.endpoints() == []


def test_register_refuses_a_url_the_target_check_blocks(hooks):
    with pytest.raises(WebhookError, match="url refused: resolves to a loopback"):
        hooks.register("bank-north", "http://10.0.0.8/hook", None)
    assert hooks.targets.checked == ["http://10.0.0.8/hook"] and hooks.store.endpoints() == []


def test_a_lender_sees_its_own_endpoints_only_and_staff_every_one(hooks):
    north, _ = hooks.register("bank-north", "https://north.test/hook", None)
    south, _ = hooks.register("bank-south", "https://south.test/hook", None)
    assert hooks.visible(north.id, "bank-north") == north
    assert hooks.visible(north.id, "bank-south") is None
    assert hooks.visible(south.id, None) == south
    assert hooks.visible("wh-nothing", None) is None
    assert [r.id for r in hooks.endpoints("bank-south")] == [south.id]
    assert {r.id for r in hooks.endpoints(None)} == {north.id, south.id}


def test_a_removed_endpoint_is_gone(hooks):
    record, _ = hooks.register("bank-north", "https://north.test/hook", None)
    assert hooks.remove(record.id) and not hooks.remove(record.id)
    assert hooks.visible(record.id, None) is None and hooks.endpoints(None) == []


def test_rotating_a_secret_keeps_the_old_one_signing_for_the_overlap(hooks):
    record, old = hooks.register("bank-north", "https://north.test/hook", None)
    hooks.clock.now_s += 10
    new = hooks.rotate_secret(record.id)
    assert new != old
    rotated = hooks.visible(record.id, None)
    assert rotated.signing_secrets(hooks.clock()) == [new, old]
    assert rotated.previous_secret_until_s == hooks.clock() + 3600
    assert rotated.signing_secrets(hooks.clock() + 3600) == [new]


def test_the_delay_follows_the_schedule_then_gives_up():
    rng = random.Random(1)
    assert [next_delay_s(n, None, [5, 30], 0, 60, rng) for n in (1, 2, 3)] == [5, 30, None]


def test_retry_after_wins_when_longer_capped_at_its_maximum():
    rng = random.Random(1)
    assert next_delay_s(1, 100, [5, 30], 0, 3600, rng) == 100
    assert next_delay_s(1, 2, [5, 30], 0, 3600, rng) == 5
    assert next_delay_s(1, 10 ** 6, [5, 30], 0, 3600, rng) == 3600
    assert next_delay_s(3, 100, [5, 30], 0, 3600, rng) is None  # no retry left, whatever it asks


def test_the_jitter_stays_within_its_fraction():
    rng = random.Random(1)
    delays = [next_delay_s(1, None, [100], 0.2, 60, rng) for _ in range(200)]
    assert min(delays) >= 80 and max(delays) <= 120 and max(delays) - min(delays) > 20


def test_register_takes_inspection_tasks_beside_alert_types(hooks):
    record, _ = hooks.register("bank-north", "https://bank.test/hook", ["inspection", "margin_call"])
    assert record.event_types == ("inspection", "margin_call")
