"""Bank webhooks end to end inside one process, on SQLite and PostgreSQL: registration,
signed CloudEvents verified by `standardwebhooks`, the retry schedule on a fake clock,
410, secret rotation, reminders, the delivery log, tenancy, and the e-mail channel."""
from __future__ import annotations

import base64
import random
import time
from decimal import Decimal
from pathlib import Path

import jsonschema_rs
import pytest
from bank_receiver import Receiver
from book_helpers import run_for
from fastapi.testclient import TestClient

from backend.adapters.webhook_http import HttpSender, TargetGuard
from backend.api.app import create_app
from backend.bootstrap import build_context, webhook_relay
from backend.services.api_keys import hash_api_key
from backend.settings import BackendSettings

BOOK = Path(__file__).resolve().parents[3] / "seeds" / "demo.yaml"
KEYS = {"admin": "k-admin", "supervisor": "k-super", "bank-north": "k-north", "bank-south": "k-south"}
SCHEDULE_S = [5, 30, 120]


class Clock:
    def __init__(self) -> None:
        self.now_s = float(int(time.time()))  # near real time: banks check webhook-timestamp

    def __call__(self) -> float:
        return self.now_s


def api_keys() -> list[dict]:
    staff = [{"name": n, "role": n, "key_hash": hash_api_key(KEYS[n])} for n in ("admin", "supervisor")]
    return staff + [{"name": lender, "role": "lender", "lender": lender, "key_hash": hash_api_key(KEYS[lender])}
                    for lender in ("bank-north", "bank-south")]


def as_(who: str) -> dict:
    return {"Authorization": f"Bearer {KEYS[who]}"}




@pytest.fixture
def world(tmp_path, database_url, smtp):
    clock = Clock()
    controller, inbox = smtp
    settings = BackendSettings(
        data_dir=tmp_path / "data", database_url=database_url, book=BOOK, roles=["api", "monitor"],
        api_keys=api_keys(), webhook_allow_private=True,
        webhooks={"relay": False, "retry_schedule_s": SCHEDULE_S, "renotify_after_s": 600,
                  "email": {"host": "127.0.0.1", "port": controller.port, "admins": ["ops@bank.test"],
                            "reminders_to": ["desk@bank.test"]}})
    context = build_context(settings, clock)
    relay = webhook_relay(settings, context.webhooks.store, context.metrics, clock)
    relay.rng = random.Random(7)
    receivers: list[Receiver] = []
    yield context, TestClient(create_app(context)), clock, relay, receivers, inbox
    for receiver in receivers:
        receiver.stop()
    context.close()


def assert_published(client, deliveries) -> None:
    """Every event a bank received matches exactly one webhook schema of /openapi.json."""
    openapi = client.get("/openapi.json").json()
    validators = {name: jsonschema_rs.validator_for({"components": openapi["components"], **hook["post"][
        "requestBody"]["content"]["application/json"]["schema"]}) for name, hook in openapi["webhooks"].items()}
    for delivery in deliveries:
        matching = [name for name, validator in validators.items() if validator.is_valid(delivery.event)]
        assert len(matching) == 1, (delivery.event["type"], matching, [
            str(error) for validator in validators.values() for error in validator.iter_errors(delivery.event)][:3])


def register(client, who: str, receiver: Receiver, **body) -> dict:
    """An endpoint for `receiver`; by default it hears only the double pledge alerts these
    tests raise (not the inspection task each one opens); `event_types=None`: everything."""
    body.setdefault("event_types", ["double_pledge_attempt"])
    answer = client.post("/api/v1/webhooks", json={"url": receiver.url, **body}, headers=as_(who))
    assert answer.status_code == 201, answer.text
    receiver.secrets.append(answer.json()["secret"])
    return answer.json()


def double_pledge(client, context) -> None:
    """A refused second pledge of lot-sh-1: a critical notice for its holder, bank-north."""
    assert client.post("/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-sh-1"},
                       headers=as_("admin")).status_code == 409
    context.monitor.tick()


def test_a_signed_cloudevent_reaches_the_right_bank_once(world):
    context, client, clock, relay, receivers, _ = world
    north, south = Receiver(), Receiver()
    receivers += [north, south]
    hook = register(client, "bank-north", north, event_types=None)
    register(client, "admin", south, lender="bank-south", event_types=None)
    assert hook["secret"].startswith("whsec_") and hook["lender"] == "bank-north"
    double_pledge(client, context)
    assert relay.run_once() == 2  # the alert, and the inspection task it opened
    delivery, task = sorted(north.deliveries, key=lambda d: d.event["source"])
    assert delivery.verified and delivery.status == 200 and south.deliveries == []
    event = delivery.event
    assert (event["specversion"], event["id"], event["source"]) == ("1.0", delivery.webhook_id, "/pledgewatch/alerts")
    assert event["type"] == "com.pledgewatch.double_pledge_attempt.opened"
    assert event["data"]["lender"] == "bank-north" and event["data"]["lot"] == "lot-sh-1"
    assert (event["data"]["warehouse"], event["data"]["gateway"]) == ("wh-shanghai", "gw-shanghai")
    assert event["data"]["details"]["attempting_loan"] == "loan-acme-2"
    assert delivery.headers["content-type"] == "application/cloudevents+json"
    assert task.verified and task.event["type"] == "com.pledgewatch.inspection.opened"
    clock.now_s += 300
    assert relay.run_once() == 0 and len(north.deliveries) == 2  # delivered: never again
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=as_("bank-north")).json()
    assert [(d["outcome"], d["status_code"], d["attempt"]) for d in log] == [("delivered", 200, 1)] * 2
    assert context.metrics.registry.get_sample_value("pw_webhook_deliveries_total", {"outcome": "delivered"}) == 2


def test_503_then_429_then_410_follows_the_schedule_and_disables_the_endpoint(world):
    context, client, clock, relay, receivers, inbox = world
    bank = Receiver(script=[(503, {}), (429, {"Retry-After": "100"}), (410, {})])
    receivers.append(bank)
    hook = register(client, "bank-north", bank)
    double_pledge(client, context)
    start_s = clock.now_s
    assert relay.run_once() == 1
    first_retry_s = context.webhooks.deliveries(hook["id"], 10, 0)[0].next_attempt_at_s - start_s
    assert SCHEDULE_S[0] * 0.8 <= first_retry_s <= SCHEDULE_S[0] * 1.2  # 5 s ± 20 % jitter
    clock.now_s = start_s + first_retry_s - 0.5
    assert relay.run_once() == 0  # not due yet
    clock.now_s = start_s + first_retry_s
    assert relay.run_once() == 1  # 429, Retry-After 100 s beats the 30 s of the schedule
    second_retry_s = context.webhooks.deliveries(hook["id"], 10, 0)[0].next_attempt_at_s - clock.now_s
    assert second_retry_s == pytest.approx(100)
    clock.now_s += 99
    assert relay.run_once() == 0
    clock.now_s += 1
    assert relay.run_once() == 1  # 410 Gone
    assert [d.status for d in bank.deliveries] == [503, 429, 410]
    assert all(d.verified for d in bank.deliveries)
    assert len({d.webhook_id for d in bank.deliveries}) == 1 and bank.accepted_ids == []
    assert len({d.body for d in bank.deliveries}) == 1  # the same bytes on every attempt
    listed = client.get(f"/api/v1/webhooks/{hook['id']}", headers=as_("admin")).json()
    assert listed["enabled"] is False and "410" in listed["disabled_reason"]
    assert any("ops@bank.test" in to and hook["id"] in text for to, text in ((to, raw.decode()) for to, raw in inbox.messages))
    client.post("/api/v1/alerts/x/ack", headers=as_("admin"))
    clock.now_s += 10_000
    assert relay.run_once() == 0 and len(bank.deliveries) == 3  # nothing more reaches it
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=as_("bank-north")).json()
    assert [d["outcome"] for d in log] == ["gone", "http_error", "http_error"]
    outcomes = {o: context.metrics.registry.get_sample_value("pw_webhook_deliveries_total", {"outcome": o})
                for o in ("http_error", "gone")}
    assert outcomes == {"http_error": 2, "gone": 1}


def test_without_retry_after_the_schedule_runs_out_and_the_row_fails(world):
    context, client, clock, relay, receivers, _ = world
    bank = Receiver(script=[(500, {})] * 10)
    receivers.append(bank)
    hook = register(client, "bank-north", bank)
    double_pledge(client, context)
    for _ in range(len(SCHEDULE_S) + 1):
        assert relay.run_once() == 1
        clock.now_s = context.webhooks.deliveries(hook["id"], 1, 0)[0].next_attempt_at_s or clock.now_s
    delays = [b.next_attempt_at_s - b.at_s for b in reversed(context.webhooks.deliveries(hook["id"], 10, 0))
              if b.next_attempt_at_s]
    assert [round(d / s, 1) for d, s in zip(delays, SCHEDULE_S)] == [pytest.approx(r, abs=0.21) for r in (1, 1, 1)]
    assert context.webhooks.store.outbox_states() == {"failed": 1}
    clock.now_s += 300
    assert relay.run_once() == 0


def test_a_rotated_secret_signs_alongside_the_old_one(world):
    context, client, clock, relay, receivers, _ = world
    bank = Receiver()
    receivers.append(bank)
    hook = register(client, "bank-north", bank)
    rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=as_("bank-north")).json()
    bank.secrets.append(rotated["secret"])  # the receiver now demands that both verify
    double_pledge(client, context)
    relay.run_once()
    [delivery] = bank.deliveries
    versions = [signature.split(",")[0] for signature in delivery.headers["webhook-signature"].split(" ")]
    assert delivery.verified and versions == ["v1", "v1", "v1a"]  # both secrets, and our Ed25519 key
    assert rotated["rotating_until_s"] == pytest.approx(clock.now_s + 86_400)


def test_an_unacknowledged_critical_alert_is_sent_again_and_an_acknowledged_one_is_not(world):
    context, client, clock, relay, receivers, inbox = world
    relay.settings = relay.settings.model_copy(update={"renotify_after_s": 60})  # signed near real time
    bank = Receiver()
    receivers.append(bank)
    register(client, "bank-north", bank)
    double_pledge(client, context)
    relay.run_once()
    clock.now_s += 59
    assert relay.run_once() == 0
    clock.now_s += 1
    assert relay.run_once() == 1
    reminder = bank.deliveries[-1].event
    assert reminder["type"] == "com.pledgewatch.double_pledge_attempt.reminder" and reminder["data"]["reminder"] == 1
    assert any("desk@bank.test" in to for to, _ in inbox.messages)
    [alert] = client.get("/api/v1/alerts", headers=as_("bank-north")).json()
    acked = client.post(f"/api/v1/alerts/{alert['id']}/ack", json={"note": "on it"}, headers=as_("bank-north"))
    assert acked.status_code == 200, acked.text
    assert relay.run_once() == 1 and bank.deliveries[-1].event["type"].endswith(".acknowledged")
    clock.now_s += 3600
    assert relay.run_once() == 0 and len(bank.deliveries) == 3  # no reminder of an acknowledged alert
    assert_published(client, bank.deliveries)


def test_each_lender_manages_and_sees_only_its_own_endpoints(world):
    context, client, clock, relay, receivers, _ = world
    bank = Receiver()
    receivers.append(bank)
    hook = register(client, "bank-north", bank, event_types=["margin_call", "liquidation"])
    assert hook["event_types"] == ["liquidation", "margin_call"]
    for who in ("bank-south", "supervisor"):
        for method, path in (("get", f"/api/v1/webhooks/{hook['id']}"), ("delete", f"/api/v1/webhooks/{hook['id']}"),
                             ("get", f"/api/v1/webhooks/{hook['id']}/deliveries")):
            assert getattr(client, method)(path, headers=as_(who)).status_code == 404, (who, path)
    assert client.get("/api/v1/webhooks", headers=as_("bank-south")).json() == []
    listed = client.get("/api/v1/webhooks", headers=as_("bank-north")).json()
    assert [w["id"] for w in listed] == [hook["id"]] and "secret" not in listed[0]
    assert "whsec_" not in client.get("/api/v1/webhooks", headers=as_("admin")).text
    post = lambda who, **body: client.post("/api/v1/webhooks", json=body, headers=as_(who))  # noqa: E731
    assert post("bank-south", lender="bank-north", url=bank.url).status_code == 404
    assert post("supervisor", lender="bank-north", url=bank.url).status_code == 404
    assert post("admin", lender="nobody", url=bank.url).status_code == 404
    assert post("admin", url=bank.url).status_code == 400
    assert post("bank-north", url=bank.url, event_types=["nonsense"]).status_code == 400
    assert post("bank-north", url="ftp://example.com/x").status_code == 400
    double_pledge(client, context)  # not a type this endpoint asked for
    assert relay.run_once() == 0
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=as_("bank-north")).status_code == 204
    assert client.get("/api/v1/webhooks", headers=as_("bank-north")).json() == []


def test_private_targets_are_refused_unless_allowed(world, tmp_path):
    context, client, clock, relay, receivers, _ = world
    context.webhooks.targets = TargetGuard(allow_private=False)
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x", "http://169.254.169.254/latest",
                "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://192.168.0.10/x", "http://0.0.0.0/x"):
        answer = client.post("/api/v1/webhooks", json={"url": url}, headers=as_("bank-north"))
        assert answer.status_code == 400 and "refused" in answer.json()["detail"], url
    # At delivery time too: an endpoint allowed once cannot be reached when the flag is off.
    bank = Receiver()
    receivers.append(bank)
    context.webhooks.targets = TargetGuard(allow_private=True)
    hook = register(client, "bank-north", bank)
    relay.sender = HttpSender(allow_private=False, clock=clock)
    double_pledge(client, context)
    relay.run_once()
    assert bank.deliveries == []
    [attempt] = context.webhooks.deliveries(hook["id"], 10, 0)
    assert attempt.outcome == "blocked" and "loopback" in attempt.error


def test_the_lender_hears_an_inspection_task_open_and_go_overdue_once(world):
    context, client, clock, relay, receivers, _ = world
    north = Receiver()
    receivers.append(north)
    register(client, "bank-north", north, event_types=["inspection"])
    double_pledge(client, context)  # a critical alert on lot-sh-1: a task to count it
    context.monitor.tick()
    assert relay.run_once() == 1
    [opened] = [d.event for d in north.deliveries]
    assert (opened["type"], opened["source"]) == ("com.pledgewatch.inspection.opened", "/pledgewatch/inspections")
    assert opened["data"]["lot"] == "lot-sh-1" and opened["data"]["state"] == "open"
    assert opened["data"]["reasons"] == ["double_pledge_attempt"] and north.deliveries[0].verified
    assert opened["data"]["deadline_s"] == opened["data"]["opened_at_s"] + context.settings.monitor.inspection_deadline_s
    clock.now_s = opened["data"]["deadline_s"] + 1
    context.monitor.tick()
    context.monitor.tick()
    relay.run_once()
    later = {(d.event["type"].rsplit(".", 1)[1], d.event["data"]["lot"]): d.event for d in north.deliveries[1:]}
    # A day without readings: lot-sh-1's task is overdue, and bank-north's other lots are
    # unverified now, each with a task of its own (bank-south's lots are not told to it).
    assert sorted(later) == [("opened", "lot-qd-1"), ("opened", "lot-qd-2"), ("overdue", "lot-sh-1")]
    overdue = later[("overdue", "lot-sh-1")]
    assert overdue["data"]["state"] == "overdue" and "collateral_unverified" in overdue["data"]["reasons"]
    assert overdue["id"] == f"inspection-lot-sh-1-{opened['data']['opened_at_s']}.overdue"
    restarted = build_context(context.settings, clock)  # the monitor's restart announces nothing twice
    try:
        restarted.monitor.tick()
    finally:
        restarted.close()
    assert relay.run_once() == 0 and len(north.deliveries) == 4


def _v1a_verifies(public_key_text: str, delivery) -> bool:
    """Standard Webhooks' asymmetric scheme, by hand: Ed25519 over "<id>.<timestamp>.<body>".
    (standardwebhooks' Python release verifies `v1` only; its Go library has `v1a`.)"""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_text.removeprefix("whpk_")))
    signed = f"{delivery.webhook_id}.{delivery.headers['webhook-timestamp']}.".encode() + delivery.body
    for entry in delivery.headers["webhook-signature"].split(" "):
        version, _, value = entry.partition(",")
        if version == "v1a":
            try:
                key.verify(base64.b64decode(value), signed)
                return True
            except InvalidSignature:
                return False
    return False


def test_every_webhook_is_also_signed_v1a_with_the_published_key(world):
    context, client, clock, relay, receivers, _ = world
    north = Receiver()
    receivers.append(north)
    register(client, "bank-north", north, event_types=None)
    double_pledge(client, context)
    relay.run_once()
    keys = client.get("/.well-known/pledgewatch/webhook-keys").json()  # public: no API key
    (published,) = [k["key"] for k in keys["webhook_keys"]]
    assert published.startswith("whpk_")
    assert north.deliveries and all(d.verified and _v1a_verifies(published, d) for d in north.deliveries)
    forged = north.deliveries[0]
    forged.body = forged.body.replace(b"bank-north", b"bank-south")
    assert not _v1a_verifies(published, forged)


def test_each_bank_receives_the_logs_checkpoints_to_witness(world):
    from backend.domain.checkpoint import open_checkpoint, parse_vkey
    context, client, clock, relay, receivers, _ = world
    north = Receiver()
    receivers.append(north)
    register(client, "bank-north", north, event_types=["checkpoint"])
    signed = context.evidence.sign_checkpoint()
    context.evidence.sign_checkpoint()  # nothing new: no second checkpoint, no second notice
    relay.run_once()
    (delivery,) = north.deliveries
    assert delivery.verified and delivery.event["type"] == "com.pledgewatch.checkpoint.signed"
    data = delivery.event["data"]
    opened = open_checkpoint(data["note"], parse_vkey(data["log_vkey"]))
    assert (opened.checkpoint.size, data["size"]) == (signed.size, signed.size)


    assert_published(client, north.deliveries)


def test_a_ping_and_a_redelivery_reach_the_bank_signed_under_their_ids(world):
    context, client, clock, relay, receivers, _ = world
    north = Receiver()
    receivers.append(north)
    hook = register(client, "bank-north", north)
    ping = client.post(f"/api/v1/webhooks/{hook['id']}/ping", headers=as_("bank-north"))
    assert ping.status_code == 202
    assert client.post(f"/api/v1/webhooks/{hook['id']}/ping", headers=as_("bank-south")).status_code == 404
    assert relay.run_once() == 1
    [pinged] = north.deliveries
    assert pinged.verified and pinged.event["type"] == "com.pledgewatch.ping"
    assert pinged.webhook_id == ping.json()["event_id"] and pinged.event["data"]["endpoint"] == hook["id"]

    double_pledge(client, context)
    assert relay.run_once() == 1
    alert_event = north.deliveries[-1]
    again = client.post(f"/api/v1/webhooks/{hook['id']}/redeliver", json={"event_id": alert_event.webhook_id},
                        headers=as_("bank-north"))
    assert again.status_code == 202
    assert relay.run_once() == 1
    assert north.deliveries[-1].webhook_id == alert_event.webhook_id and north.deliveries[-1].verified
    assert north.deliveries[-1].body == alert_event.body  # the same event, byte for byte
    assert client.post(f"/api/v1/webhooks/{hook['id']}/redeliver", json={"event_id": "al-nope.opened"},
                       headers=as_("bank-north")).status_code == 404
    assert_published(client, north.deliveries)


def test_the_bank_hears_what_people_did_to_its_alert(world):
    context, client, clock, relay, receivers, _ = world
    north = Receiver()
    receivers.append(north)
    register(client, "bank-north", north)
    double_pledge(client, context)
    relay.run_once()
    alert_id = north.deliveries[0].event["data"]["id"]
    clock.now_s += 1
    assert client.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "called the borrower"},
                       headers=as_("supervisor")).status_code == 200
    clock.now_s += 1
    assert client.post(f"/api/v1/alerts/{alert_id}/comments", json={"text": "the second loan is acme's error"},
                       headers=as_("supervisor")).status_code == 201
    assert client.put(f"/api/v1/alerts/{alert_id}/assignee", json={"assignee": "li.wei"},
                      headers=as_("supervisor")).status_code == 200  # the manager's own business: not told
    clock.now_s += 1
    assert client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=as_("supervisor")).status_code == 200
    context.monitor.tick()  # the monitor drops the person's resolution from its book: no second "resolved"
    relay.run_once()
    told = [(d.event["type"].rsplit(".", 1)[1], d.event["data"]) for d in north.deliveries[1:]]
    assert [change for change, _ in told] == ["acknowledged", "commented", "resolved"]
    assert told[0][1]["by"] == "supervisor" and told[0][1]["note"] == "called the borrower"
    assert told[1][1]["text"] == "the second loan is acme's error" and told[1][1]["role"] == "supervisor"
    assert all(d.verified and d.event["source"] == "/pledgewatch/alerts" for d in north.deliveries)
    assert_published(client, north.deliveries)


def test_an_escalation_supersedes_the_milder_alert_instead_of_reading_like_a_cure(world):
    context, client, clock, relay, receivers, _ = world
    south = Receiver()
    receivers.append(south)
    register(client, "bank-south", south, event_types=["ltv_warning", "margin_call"])

    def price(cny_per_t: int) -> None:
        posted = client.post("/api/v1/prices", headers=as_("admin"),
                             json={"commodity": "steel_coil", "price": cny_per_t, "currency": "CNY", "per": "t"})
        assert posted.status_code == 201, posted.text

    seq = run_for(context, clock, 3)
    price(3200)                               # loan-acme-2 (bank-south) above its warning level
    seq = run_for(context, clock, 2, start_seq=seq)
    price(2700)                               # and above its margin-call level
    for _ in range(20):                       # the warning ends when the call has lasted its clear time
        seq = run_for(context, clock, 1, start_seq=seq)
        relay.run_once()
        if any(d.event["type"].startswith("com.pledgewatch.ltv_warning.") and
               not d.event["type"].endswith(".opened") for d in south.deliveries):
            break
    changes = {d.event["type"].removeprefix("com.pledgewatch."): d.event["data"] for d in south.deliveries}
    assert set(changes) == {"ltv_warning.opened", "margin_call.opened", "ltv_warning.superseded"}, set(changes)
    assert changes["ltv_warning.superseded"]["superseded_by"] == changes["margin_call.opened"]["id"]
    # A bank acts on the loan's standing: money as decimal strings in its currency, the deadline in RFC 3339.
    call = changes["margin_call.opened"]
    facts = call["loan_facts"]
    loan = client.get("/api/v1/loans/loan-acme-2", headers=as_("bank-south")).json()
    assert (facts["currency"], facts["status"], facts["outstanding"]) == ("CNY", "margin_call", "750000.00")
    assert Decimal(facts["ltv"]) >= Decimal(facts["thresholds"]["margin_call"]) and facts["thresholds"]["margin_call"] == "0.8"
    assert Decimal(facts["cure_amount"]) > 0 and facts["cure_deadline"].endswith("Z")
    assert Decimal(facts["market_value"]) > Decimal(facts["lending_value"])  # before and after the haircut
    assert loan["status"] == "margin_call"
    assert call["links"] == {"alert": f"/api/v1/alerts/{call['id']}", "dashboard": f"/#/alerts/{call['id']}",
                             "loan": "/api/v1/loans/loan-acme-2"}
    assert client.get(call["links"]["alert"], headers=as_("bank-south")).status_code == 200
    assert_published(client, south.deliveries)


def test_a_silenced_alert_is_still_sent_to_the_bank_marked_and_the_silence_ends(world):
    context, client, clock, relay, receivers, _ = world
    north = Receiver()
    receivers.append(north)
    register(client, "bank-north", north)
    body = {"scope": "warehouse", "value": "wh-shanghai", "reason": "scale recalibration", "for_s": 3600}
    assert client.post("/api/v1/silences", json=body, headers=as_("bank-north")).status_code in (403, 404)
    assert client.post("/api/v1/silences", json={**body, "value": "wh-nowhere"},
                       headers=as_("supervisor")).status_code == 400
    assert client.post("/api/v1/silences", json={**body, "for_s": 31 * 86_400},
                       headers=as_("supervisor")).status_code == 422
    silence = client.post("/api/v1/silences", json=body, headers=as_("supervisor")).json()
    assert (silence["gateway"], silence["created_by"]) == ("gw-shanghai", "supervisor")
    double_pledge(client, context)   # lot-sh-1 is in wh-shanghai
    relay.run_once()
    [delivery] = north.deliveries
    assert delivery.event["data"]["silenced_by"] == silence["id"]  # sent all the same, marked
    [alert] = client.get("/api/v1/alerts", headers=as_("bank-north")).json()
    assert alert["silenced_by"] == silence["id"]
    assert [s["id"] for s in client.get("/api/v1/silences", headers=as_("supervisor")).json()] == [silence["id"]]
    clock.now_s += 1
    assert client.delete(f"/api/v1/silences/{silence['id']}", headers=as_("supervisor")).status_code == 204
    assert client.delete(f"/api/v1/silences/{silence['id']}", headers=as_("supervisor")).status_code == 404
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=as_("bank-north")).json()["silenced_by"] is None
    assert_published(client, north.deliveries)
