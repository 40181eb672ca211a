"""The daily collateral report: what it says matches the API, it escapes what people typed, a
lender sees only its own, and each lender's day is made and sent once (webhook and e-mail),
restarts included."""
from __future__ import annotations

import email
import hashlib
import io
import subprocess
import sys
import time
from datetime import datetime
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import jsonschema_rs
import pypdf
import pytest
import yaml
from bank_receiver import Receiver
from book_helpers import BOOK, Clock, api_keys, as_, run_for
from fastapi.testclient import TestClient
from waiting import wait_for

from backend.api.app import create_app
from backend.bootstrap import build_context, webhook_relay
from backend.services.reports import ReportLoop
from backend.settings import BackendSettings

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = "2026-01-14"
HOSTILE = '<script>alert("pwned")</script> & <img src=x onerror=1>'


def at_shanghai(hour: int, minute: int = 0) -> float:
    return datetime(2026, 1, 14, hour, minute, tzinfo=SHANGHAI).timestamp()


@pytest.fixture
def reporting(tmp_path, database_url, smtp):
    """The demo book at 15:00 in Shanghai on DAY: bank-north reads its report in Chinese,
    Shanghai time, with the PDF e-mailed too; bank-south in English, UTC."""
    controller, inbox = smtp
    clock = Clock(at_shanghai(15))
    settings = BackendSettings(
        data_dir=tmp_path / "data", database_url=database_url, book=BOOK, roles=["api", "monitor"],
        api_keys=api_keys(), webhook_allow_private=True,
        monitor={"reporting_period_s": 60, "confirmation_s": 600},
        webhooks={"relay": False, "email": {"host": "127.0.0.1", "port": controller.port}},
        reports={"daily_at": "18:00", "lenders": {
            "bank-north": {"locale": "zh-CN", "timezone": "Asia/Shanghai", "email_to": ["desk@north.test"]}}})
    contexts = [build_context(settings, clock)]
    yield settings, contexts, TestClient(create_app(contexts[0])), clock, inbox
    for context in contexts:
        context.close()


class Tables(HTMLParser):
    """The text of every table cell, table by table (entities decoded, as a browser shows it)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.tags: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.tables[-1][-1].append("")

    def handle_data(self, data) -> None:
        if self.tables and self.tables[-1] and self.tables[-1][-1] and self.tags[-1] in ("td", "th"):
            self.tables[-1][-1][-1] += data

    def table_with(self, heading: str) -> list[dict[str, str]]:
        table = next(rows for rows in self.tables if heading in rows[0])
        return [dict(zip(table[0], row)) for row in table[1:]]


def a_days_trouble(context, client, clock) -> None:
    """Readings, then goods gone from bank-north's lot (an alert, acknowledged with a hostile
    note), and a count recorded with one."""
    seq = run_for(context, clock, 3)
    run_for(context, clock, 15, start_seq=seq, missing={"lot-sh-1": 4})
    [removal] = client.get("/api/v1/alerts", params={"type": "unauthorized_removal"},
                           headers=as_("bank-north")).json()
    assert client.post(f"/api/v1/alerts/{removal['id']}/ack", json={"note": HOSTILE},
                       headers=as_("bank-north")).status_code == 200
    counted = client.post("/api/v1/inspections", json={"lot": "lot-sh-1", "items": 36, "quantity": "450",
                                                        "note": HOSTILE}, headers=as_("supervisor"))
    assert counted.status_code == 201, counted.text


def test_the_report_says_what_the_api_says_escaped_in_html_and_readable_in_pdf(reporting):
    _, [context], client, clock, _ = reporting
    a_days_trouble(context, client, clock)
    page = client.get("/api/v1/reports/daily", params={"date": DAY}, headers=as_("bank-north"))
    assert page.status_code == 200 and page.headers["x-report"] == "preview"
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text and "<img" not in page.text and "&lt;script&gt;" in page.text
    assert page.headers["etag"] == f'"{hashlib.sha256(page.content).hexdigest()}"'

    tables = Tables(page.text)
    loans = {row["贷款"]: row for row in tables.table_with("借款人")}
    api = {loan["id"]: loan for loan in client.get("/api/v1/loans", headers=as_("bank-north")).json()}
    assert set(loans) == set(api) == {"loan-acme-1", "loan-river-1"}
    for loan_id, row in loans.items():
        for column, field in (("贷款余额", "outstanding"), ("市值", "market_value"), ("质押价值", "collateral_value"),
                              ("可用额度", "drawing_power")):
            assert row[column] == f"{Decimal(api[loan_id][field]).quantize(Decimal('0.01'))} CNY", (loan_id, column)
        assert row["质押率"] == f"{(Decimal(api[loan_id]['ltv']) * 100).quantize(Decimal('0.01'))} %"
    alerts = tables.table_with("详情")
    removal = next(row for row in alerts if row["类型"] == "未经授权出库")
    assert HOSTILE in removal["确认"] and "新开, 确认" == removal["当日"] and "missing_items: 4" in removal["详情"]
    [count] = tables.table_with("件数")
    assert (count["货位"], count["件数"], count["备注"]) == ("lot-sh-1", "36", HOSTILE)
    assert "2026年1月14日" in page.text and "Asia/Shanghai (UTC+08:00)" in page.text

    pdf = client.get("/api/v1/reports/daily", params={"date": DAY, "format": "pdf"}, headers=as_("bank-north"))
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "每日押品报告" in text and "未经授权出库" in text
    for loan_id, loan in api.items():
        assert loan_id in text and f"{Decimal(loan['outstanding']).quantize(Decimal('0.01'))} CNY" in text

    english = client.get("/api/v1/reports/daily", params={"format": "pdf"}, headers=as_("bank-south"))
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(english.content)).pages)
    assert "Daily collateral report" in text and "loan-delta-1" in text and "loan-acme-1" not in text


def test_a_lender_gets_its_own_report_and_nobody_elses(reporting):
    _, [context], client, clock, _ = reporting
    run_for(context, clock, 2)
    get = lambda who, **params: client.get("/api/v1/reports/daily", params=params, headers=as_(who))  # noqa: E731
    assert get("bank-south", lender="bank-north").status_code == 404
    assert get("bank-south", lender="bank-south").status_code == 200
    assert "loan-acme-1" not in get("bank-south").text and "loan-acme-2" in get("bank-south").text
    assert get("supervisor", lender="bank-north").status_code == 200
    assert get("supervisor").status_code == 400  # staff say whose
    assert get("admin", lender="bank-east").status_code == 404
    assert get("bank-north", date="2026-01-13").status_code == 404  # a past day with no report kept
    assert get("bank-north", date="2026-01-15").status_code == 400  # not begun
    assert get("bank-north", date="2026-02-30").status_code == 400
    assert get("bank-north", date="9999-12-31").status_code == 400
    assert get("bank-north", date="14/01/2026").status_code == 422
    assert get("bank-north", format="docx").status_code == 422
    assert client.get("/api/v1/reports/daily").status_code == 401


def test_each_lenders_day_is_made_and_sent_once_even_across_a_restart(reporting):
    settings, contexts, client, clock, inbox = reporting
    context = contexts[0]
    receiver = Receiver()
    answer = client.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["report"]},
                         headers=as_("bank-north"))
    receiver.secrets.append(answer.json()["secret"])
    try:
        run_for(context, clock, 2)
        assert context.reports.make_due() == 0  # before 18:00 in Shanghai
        clock.now_s = at_shanghai(18, 0)
        run_for(context, clock, 1)
        loop = ReportLoop(context.reports, every_s=0.05)  # as the monitor role's process runs it
        loop.start()
        try:
            assert wait_for(lambda: context.reports.store.get("bank-north", DAY) is not None, timeout_s=30)
        finally:
            loop.stop()
        assert context.reports.store.get("bank-south", DAY) is None  # its 18:00 (UTC) has not come
        assert context.reports.make_due() == 0
        contexts.append(restarted := build_context(settings, clock))
        assert restarted.reports.make_due() == 0

        relay = webhook_relay(settings, context.webhooks.store, context.metrics, time.time)  # banks check the time
        assert relay.run_once() == 1 and relay.run_once() == 0
        assert receiver.wait_for(lambda bank: len(bank.deliveries) == 1)
        [delivery] = receiver.deliveries
        assert delivery.verified and delivery.event["type"] == "com.pledgewatch.report.daily"
        assert delivery.webhook_id == f"report-bank-north-{DAY}.daily"
        assert_matches_published_schema(client, "report", delivery.event)
        data = delivery.event["data"]

        kept = client.get(data["links"]["pdf"], headers=as_("bank-north"))
        assert kept.headers["x-report"] == "kept" and hashlib.sha256(kept.content).hexdigest() == data["pdf_sha256"]
        page = client.get(data["links"]["html"], headers=as_("bank-north"))
        assert hashlib.sha256(page.content).hexdigest() == data["html_sha256"]
        clock.now_s += 3600  # later that day: still the report made at 18:00
        assert client.get(data["links"]["pdf"], headers=as_("bank-north")).content == kept.content
        theirs = client.get(data["links"]["pdf"], headers=as_("bank-south"))  # the same link: its own day
        assert theirs.headers["x-report"] == "preview" and theirs.content != kept.content

        [mail] = [email.message_from_bytes(raw) for _, raw in inbox.messages]
        assert mail["To"] == "desk@north.test" and DAY in mail["Subject"]
        [attached] = [part for part in mail.walk() if part.get_content_type() == "application/pdf"]
        assert attached.get_payload(decode=True) == kept.content
    finally:
        receiver.stop()
    assert_the_command_line_writes_the_kept_report(settings, kept.content)


def assert_the_command_line_writes_the_kept_report(settings, pdf: bytes) -> None:
    config = settings.data_dir.parent / "backend.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(settings.data_dir), "database_url": settings.database_url}))
    out = settings.data_dir.parent / "north.pdf"
    command = [sys.executable, "-m", "backend.cli", "report", "daily", "--config", str(config), "--lender",
               "bank-north", "--out", str(out)]
    written = subprocess.run([*command, "--date", DAY], capture_output=True, text=True, timeout=120)
    assert written.returncode == 0 and "kept" in written.stdout, written.stderr
    assert out.read_bytes() == pdf
    missing = subprocess.run([*command, "--date", "2026-01-13"], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no daily report was kept for 2026-01-13" in missing.stderr, missing.stderr


def assert_matches_published_schema(client, name: str, event: dict) -> None:
    openapi = client.get("/openapi.json").json()
    schema = openapi["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for({"components": openapi["components"], **schema})
    assert validator.is_valid(event), [str(error) for error in validator.iter_errors(event)][:3]
