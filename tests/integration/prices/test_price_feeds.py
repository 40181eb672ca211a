"""Price feeds on a real database (SQLite and PostgreSQL): every source through one guard,
history and volatility over HTTP, FX, and price faults that must not move an LTV."""
from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from waiting import wait_for

from backend.adapters.price_sources.csv_replay import CsvReplaySource
from backend.adapters.price_sources.http_json import HttpJsonSource
from backend.adapters.price_sources.mqtt_topic import MqttPriceSource, fx_topic, price_topic
from backend.adapters.price_sources.simulated import SimulatedSource
from backend.api.app import create_app
from backend.book.naming import simulated_epcs
from backend.bootstrap import build_context
from backend.ports.ingest import AcceptedMessage
from backend.ports.prices import FxQuote, PriceQuote
from backend.services.api_keys import hash_api_key
from backend.services.prices import PriceFeedRunner, PriceRejected, ewma_volatility
from backend.settings import BackendSettings
from edge import protocol
from edge.protocol.broker import BrokerSettings

BOOK = Path(__file__).resolve().parents[3] / "seeds" / "demo.yaml"
KEYS = {"admin": "k-admin", "supervisor": "k-super", "bank-north": "k-north"}
LOTS = {"lot-sh-1": ("gw-shanghai", 40, 12_500.0), "lot-sh-2": ("gw-shanghai", 24, 15_000.0),
        "lot-qd-1": ("gw-qingdao", 60, 2_500.0), "lot-qd-2": ("gw-qingdao", 30, 12_500.0),
        "lot-nb-1": ("gw-ningbo", 50, 1_000.0)}
LTV_ALERTS = {"ltv_warning", "margin_call", "liquidation", "ltv_cured"}


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def book(tmp_path, database_url):
    clock = Clock()
    keys = [{"name": "admin", "role": "admin", "key_hash": hash_api_key(KEYS["admin"])},
            {"name": "supervisor", "role": "supervisor", "key_hash": hash_api_key(KEYS["supervisor"])},
            {"name": "bank-north", "role": "lender", "lender": "bank-north", "key_hash": hash_api_key(KEYS["bank-north"])}]
    settings = BackendSettings(data_dir=tmp_path / "data", database_url=database_url, book=BOOK,
                               roles=["api", "monitor"], api_keys=keys, webhooks={"relay": False})
    context = build_context(settings, clock)
    yield context, TestClient(create_app(context)), clock
    context.close()


def as_(who: str) -> dict:
    return {"Authorization": f"Bearer {KEYS[who]}"}


def minutes(context, clock, count: int, seq: list[int] = [0]) -> None:
    """`count` minutes of every lot reporting in full, a monitor tick each minute."""
    for _ in range(count):
        seq[0] += 1
        now_ms = int(clock() * 1000)
        by_gateway: dict[str, list] = {}
        for lot_id, (gateway, items, item_kg) in LOTS.items():
            readings = by_gateway.setdefault(gateway, [])
            readings.append(protocol.Reading(f"{lot_id}-scale", "weight", now_ms,
                                             {"weight_kg": items * item_kg + seq[0] % 3 / 10}))
            readings.append(protocol.Reading(f"{lot_id}-rfid", "rfid", now_ms,
                                             {"tags": [{"epc": e} for e in simulated_epcs(lot_id, items)]}))
            if lot_id == "lot-nb-1":
                readings.append(protocol.Reading(f"{lot_id}-temp", "temperature", now_ms,
                                                 {"temperature_c": -22.0 + seq[0] % 3 / 10}))
        context.readings.append([AcceptedMessage(protocol.Envelope(gw, 1, seq[0], now_ms, tuple(rs)), now_ms, now_ms)
                                 for gw, rs in by_gateway.items()])
        context.monitor.tick()
        clock.now_s += 60


def alert_types(client) -> set[str]:
    return {a["type"] for a in client.get("/api/v1/alerts", headers=as_("admin")).json()}


def steel(price, at_s, per="t", currency="CNY") -> PriceQuote:
    return PriceQuote("steel_coil", Decimal(price), currency, per, at_s)


class VendorServer:
    """A data vendor's JSON endpoint over real HTTP; `quote` is what it says next."""

    def __init__(self) -> None:
        self.quote: object = {"data": {"last": 4000, "ts": 0}}
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = json.dumps(vendor.quote).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/quotes/steel"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vendor():
    server = VendorServer()
    yield server
    server.stop()


def test_the_guard_refuses_what_no_market_quotes(book):
    context, client, clock = book
    service, now_s = context.price_service, clock()
    refused = {"NaN": steel("NaN", now_s), "zero": steel(0, now_s), "negative": steel(-5, now_s),
               "infinite": steel("Infinity", now_s), "huge": steel("1e20", now_s),
               "future": steel(4000, now_s + 3600), "per bag": steel(4000, now_s, per="bag"),
               "no fx": steel(560, now_s, currency="USD"),
               "unknown": PriceQuote("unobtainium", Decimal(1), "CNY", "t", now_s),
               "fx NaN": FxQuote("USD", "CNY", Decimal("NaN"), now_s), "fx same": FxQuote("CNY", "CNY", Decimal(1), now_s)}
    for name, quote in refused.items():
        with pytest.raises(PriceRejected):
            service.submit(quote, "test")
    service.submit(steel(4010, now_s + 10), "test")
    with pytest.raises(PriceRejected, match="older"):
        service.submit(steel(4020, now_s + 5), "test")
    with pytest.raises(PriceRejected, match="same quote"):
        service.submit(steel(4010, now_s + 10), "test")
    assert len(context.prices.history("steel_coil", 0, now_s + 100, 100)) == 2  # the book's opening + one
    for body in ({"price": "NaN"}, {"price": -1}, {"price": 0}, {"price": "abc"}):
        answer = client.post("/api/v1/prices", json={"commodity": "steel_coil", "currency": "CNY", "per": "t", **body},
                             headers=as_("admin"))
        assert answer.status_code == 422, body


def test_price_faults_never_raise_a_false_ltv_alert(book, vendor):
    context, client, clock = book
    poller = HttpJsonSource("vendor", vendor.url, "data.last", interval_s=60, commodity="steel_coil",
                            currency="CNY", time_path="data.ts")
    runner = PriceFeedRunner([poller], context.price_service, clock)
    minutes(context, clock, 3)
    for fault in (400_000, "NaN", -4000, 0, 40):  # ×100 spike, garbage, a ×0.01 fat finger
        vendor.quote = {"data": {"last": fault, "ts": clock()}}
        runner.run_due()
        runner.polled[0].due_s = 0
        minutes(context, clock, 2)
        vendor.quote = {"data": {"last": 4000, "ts": clock()}}
        runner.run_due()
        runner.polled[0].due_s = 0
        minutes(context, clock, 2)
    assert "price_outlier" in alert_types(client)  # the spike was seen and held, for staff
    assert not alert_types(client) & LTV_ALERTS
    sources = {s for _, s in context.prices.history("steel_coil", 0, clock(), 1000)}
    assert sources == {"book", "vendor"}
    loan = client.get("/api/v1/loans/loan-acme-1", headers=as_("admin")).json()
    assert loan["status"] == "normal"
    clock.now_s += 25 * 3600  # the vendor goes quiet for a day: stale, but LTV stays put
    minutes(context, clock, 2)
    assert "price_stale" in alert_types(client) and not alert_types(client) & LTV_ALERTS
    assert client.get("/api/v1/loans/loan-acme-1", headers=as_("admin")).json()["price_stale"] is True


def test_history_and_ewma_volatility_over_http(book):
    context, client, clock = book
    start_s = clock()
    prices = [4000, 4040, 3990, 4100, 4050]
    for n, price in enumerate(prices):
        clock.now_s = start_s + 60 * (n + 1)
        assert client.post("/api/v1/prices", json={"commodity": "steel_coil", "price": price, "currency": "CNY",
                                                   "per": "t"}, headers=as_("admin")).status_code == 201
    answer = client.get("/api/v1/prices", params={"commodity": "steel_coil", "from": start_s + 1, "to": clock() + 1},
                        headers=as_("bank-north")).json()
    assert [float(m["price"]) for m in answer["marks"]] == prices
    assert answer["ewma_volatility"] == pytest.approx(ewma_volatility(prices, 0.94))
    assert 0.005 < answer["ewma_volatility"] < 0.03
    window = client.get("/api/v1/prices", params={"commodity": "steel_coil", "from": start_s + 61, "to": start_s + 181},
                        headers=as_("admin")).json()
    assert [float(m["price"]) for m in window["marks"]] == [4040, 3990]
    assert client.get("/api/v1/prices", params={"commodity": "nope"}, headers=as_("admin")).status_code == 404
    assert client.get("/api/v1/prices", params={"commodity": "steel_coil", "from": 10, "to": 5},
                      headers=as_("admin")).status_code == 400
    assert client.get("/api/v1/prices", params={"commodity": "steel_coil"}).status_code == 401
    latest = client.get("/api/v1/prices", headers=as_("bank-north")).json()["latest"]
    assert sorted(latest) == ["copper_cathode", "frozen_shrimp", "steel_coil"] and latest["steel_coil"]["price"] in ("4050", "4050.0000000000")


def test_ewma_volatility_weights_recent_returns_more():
    calm_then_wild = [100, 100.1] * 20 + [100, 110, 95, 112]
    wild_then_calm = [100, 110, 95, 112] + [112, 112.1] * 20
    assert ewma_volatility(calm_then_wild) > 3 * ewma_volatility(wild_then_calm)
    assert ewma_volatility([100]) is None and ewma_volatility([]) is None


def test_fx_rates_value_a_price_in_another_currency_and_a_wild_rate_is_held(book):
    context, client, clock = book
    minutes(context, clock, 2)
    before = float(client.get("/api/v1/loans/loan-acme-1", headers=as_("admin")).json()["ltv"])
    assert client.post("/api/v1/fx", json={"base": "USD", "quote": "CNY", "rate": 8}, headers=as_("admin")).status_code == 201
    clock.now_s += 1
    assert client.post("/api/v1/prices", json={"commodity": "steel_coil", "price": 500, "currency": "USD", "per": "t"},
                       headers=as_("admin")).status_code == 201  # 500 USD × 8 = 4000 CNY, as before
    minutes(context, clock, 2)
    assert float(client.get("/api/v1/loans/loan-acme-1", headers=as_("admin")).json()["ltv"]) == pytest.approx(before)
    assert client.post("/api/v1/fx", json={"base": "USD", "quote": "CNY", "rate": 0.8}, headers=as_("admin")).status_code == 201
    minutes(context, clock, 2)  # a ×0.1 rate: held like an outlier price
    assert float(client.get("/api/v1/loans/loan-acme-1", headers=as_("admin")).json()["ltv"]) == pytest.approx(before)
    assert not alert_types(client) & LTV_ALERTS
    assert client.post("/api/v1/fx", json={"base": "USD", "quote": "CNY", "rate": 8}, headers=as_("bank-north")).status_code == 404


def test_csv_replay_and_the_simulated_walk_feed_the_marks(book, tmp_path):
    context, client, clock = book
    csv_path = tmp_path / "replay.csv"
    csv_path.write_text("offset_s,commodity,price,currency,per\n0,steel_coil,4010,CNY,t\n"
                        "60,USD/CNY,7.1,,\n120,steel_coil,4.02,CNY,kg\n")
    replay = CsvReplaySource("replay", csv_path, interval_s=60)
    runner = PriceFeedRunner([replay], context.price_service, clock)
    for _ in range(3):
        runner.run_due()
        clock.now_s += 60
    marks = context.prices.history("steel_coil", 0, clock(), 100)
    assert [(t.price, t.per_unit, s) for t, s in marks][-2:] == [(Decimal(4010), "t", "replay"),
                                                                  (Decimal("4.02"), "kg", "replay")]
    assert context.prices.latest_fx("USD", "CNY").rate == Decimal("7.1")
    assert client.post("/api/v1/prices", json={"commodity": "steel_coil", "price": 3000, "currency": "CNY", "per": "t"},
                       headers=as_("admin")).status_code == 201  # the walk continues from a manual mark
    walk = SimulatedSource("sim", "steel_coil", "CNY", "t", latest_price=context.price_service.latest_price,
                           start_price=Decimal(4000), interval_s=5, volatility_per_sqrt_day=0.02, seed=3)
    sim = PriceFeedRunner([walk], context.price_service, clock)
    for _ in range(5):
        clock.now_s += 5
        sim.run_due()
    walked = [float(t.price) for t, s in context.prices.history("steel_coil", 0, clock() + 1, 100) if s == "sim"]
    assert len(walked) == 5 and all(2900 < p < 3100 for p in walked)
    walk.shock(-0.3)
    clock.now_s += 5
    sim.run_due()
    assert float(context.price_service.latest_price("steel_coil")) == pytest.approx(walked[-1] * 0.7, abs=0.01)


def test_quotes_on_the_mqtt_price_topic_are_guarded_and_stored(book, mosquitto):
    context, client, clock = book
    source = MqttPriceSource("mqtt", BrokerSettings(host="127.0.0.1", port=mosquitto.port),
                             client_id=f"pw-prices-{time.monotonic_ns()}")
    runner = PriceFeedRunner([source], context.price_service, clock)
    runner.start()
    try:
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        assert source.subscribed.wait(30), "the price source never subscribed"
        now_s = clock()
        for payload in ({"price": "NaN", "currency": "CNY", "per": "t", "at_s": now_s},
                        {"price": -1, "currency": "CNY", "per": "t", "at_s": now_s},
                        {"price": "4100.5", "currency": "CNY", "per": "t", "at_s": now_s}):
            publisher.publish(price_topic("steel_coil"), json.dumps(payload), qos=1).wait_for_publish()
        publisher.publish(fx_topic("USD", "CNY"), json.dumps({"rate": 7.2, "at_s": now_s}), qos=1).wait_for_publish()
        publisher.publish(price_topic("steel_coil"), b"not json", qos=1).wait_for_publish()
        wait_for(lambda: context.prices.latest_fx("USD", "CNY") is not None, timeout_s=30)
        publisher.loop_stop()
        publisher.disconnect()
    finally:
        runner.stop()
    marks = [t.price for t, s in context.prices.history("steel_coil", now_s - 1, now_s + 1, 10) if s == "mqtt"]
    assert marks == [Decimal("4100.5")]
    assert context.prices.latest_fx("USD", "CNY").rate == Decimal("7.2")


def test_a_what_if_price_revalues_the_whole_book(book):
    context, client, clock = book
    minutes(context, clock, 2)
    answer = client.post("/api/v1/prices/impact", json={"commodity": "steel_coil", "price": 2700, "currency": "CNY",
                                                         "per": "t"}, headers=as_("supervisor")).json()
    assert answer["loans_revalued"] == 4
    moved = {c["loan"]: (c["zone_now"], c["zone_then"]) for c in answer["zone_changes"]}
    assert moved["loan-acme-1"] == ("normal", "margin_call")
    assert client.post("/api/v1/prices/impact", json={"commodity": "steel_coil", "price": 2700, "currency": "CNY",
                                                       "per": "t"}, headers=as_("bank-north")).status_code == 404
    assert context.prices.latest("steel_coil").price == Decimal(4000)  # nothing stored
