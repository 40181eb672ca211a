"""kill -9 the delivery relay (its own process) at random points while 1,000 alerts are
stored: every alert still reaches the bank, verified, none lost; at least once, so a bank
de-duplicates by webhook-id. SQLite and PostgreSQL."""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import MappingProxyType

import pytest
import yaml

from backend.bootstrap import build_context
from backend.domain.alerts import Alert, AlertOpened
from backend.services.api_keys import hash_api_key
from backend.settings import BackendSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration" / "webhooks"))
from bank_receiver import Receiver  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
BOOK = ROOT / "seeds" / "demo.yaml"
ALERTS, BATCH = 1000, 10


def margin_calls(first: int, count: int, at_s: int) -> list[AlertOpened]:
    return [AlertOpened(Alert(f"al-kill-{n:04d}", "margin_call", "critical", "open", at_s, None, None,
                              "loan-acme-1", None, "bank-north", None, MappingProxyType({"n": n})))
            for n in range(first, first + count)]


def generate(context, done: threading.Event) -> None:
    """1,000 alerts in small transactions, each with its outbox rows, over a few seconds."""
    for first in range(0, ALERTS, BATCH):
        events = margin_calls(first, BATCH, int(time.time()))
        context.alerts.apply(events, {e.alert.id: e.alert.id for e in events})
        time.sleep(random.uniform(0.0, 0.02))
    done.set()


def start_relay(config: Path, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "backend.cli", "relay", "--config", str(config)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.e2e
def test_every_alert_is_delivered_through_kill_9s_of_the_relay(tmp_path, database_url):
    random.seed(11)
    bank = Receiver()
    settings = BackendSettings(data_dir=tmp_path / "data", database_url=database_url, book=BOOK, roles=["api"],
                               webhook_allow_private=True,
                               api_keys=[{"name": "admin", "role": "admin", "key_hash": hash_api_key("k")}])
    context = build_context(settings)
    _, secret = context.webhooks.register("bank-north", bank.url, None)
    bank.secrets.append(secret)
    config = tmp_path / "relay.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"), "database_url": database_url, "webhook_allow_private": True,
        "webhooks": {"lease_s": 1.0, "poll_interval_s": 0.05, "batch_size": 20, "renotify_after_s": 0,
                     "retry_schedule_s": [0.2, 0.5, 1, 1, 1, 1, 1, 1, 1, 1]}}))
    done, kills = threading.Event(), 0
    generator = threading.Thread(target=generate, args=(context, done))
    relay = None
    with (tmp_path / "relay.log").open("w") as log:
        try:
            generator.start()
            while not done.is_set() or kills < 5:
                relay = start_relay(config, log)
                time.sleep(random.uniform(0.8, 2.0))  # start-up included: kills land anywhere
                relay.send_signal(signal.SIGKILL)
                relay.wait()
                kills += 1
            relay = start_relay(config, log)
            all_in = bank.wait_for(lambda r: len(set(r.accepted_ids)) >= ALERTS, timeout_s=60)
            deadline = time.monotonic() + 15
            while context.webhooks.store.outbox_states() != {"delivered": ALERTS} and time.monotonic() < deadline:
                time.sleep(0.1)  # the last answers being recorded (or re-sent after a lease)
        finally:
            if relay is not None and relay.poll() is None:
                relay.send_signal(signal.SIGTERM)
                relay.wait(timeout=10)
            generator.join()
            bank.stop()
    states = context.webhooks.store.outbox_states()
    context.close()
    expected = {f"al-kill-{n:04d}.opened" for n in range(ALERTS)}
    assert all_in, f"{len(set(bank.accepted_ids))} of {ALERTS} delivered; outbox {states}"
    assert set(bank.accepted_ids) == expected
    unverified = [(d.webhook_id, d.headers, d.body[:80]) for d in bank.deliveries if d.complete and not d.verified]
    assert unverified == []  # a torn request fails verification, as it must; a whole one never
    assert states == {"delivered": ALERTS}
    resent = len(bank.accepted_ids) - ALERTS
    torn = sum(not d.complete for d in bank.deliveries)
    print(f"\nkill -9 x{kills}: {ALERTS} alerts delivered, {resent} re-sent under the same webhook-id, "
          f"{torn} torn mid-body")
