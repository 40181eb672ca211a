"""The Releases view in headless Chromium, each party on its own page: the borrower asks, the
lender approves, the warehouse acknowledges and prints the delivery order; another warehouse
sees none of it.

Its backend is served here (the demo's book, the monitor ticked by hand on readings of every
tag) rather than by `pledgewatch demo`: a fresh demo's lots are on probation for minutes after
its gateways first report, and no goods may leave an unverified lot.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from browser_demo import Demo, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from book_helpers import BOOK, KEYS, Clock, api_keys, run_for  # noqa: E402

from backend.api.app import create_app  # noqa: E402
from backend.bootstrap import build_context  # noqa: E402
from backend.demo.ports import free_port  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The book's backend on a free port, every lot seen whole for three minutes."""
    clock, port = Clock(time.time()), free_port()
    settings = BackendSettings(data_dir=tmp_path_factory.mktemp("backend"), book=BOOK, roles=["api", "monitor"],
                               api_keys=api_keys(), monitor={"reporting_period_s": 60, "confirmation_s": 600})
    context = build_context(settings, clock)
    run_for(context, clock, 3)
    server = uvicorn.Server(uvicorn.Config(create_app(context), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="backend", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/api/v1/health", timeout=2).is_success, 30, "the backend")
    yield Demo(base, KEYS)
    server.should_exit = True
    thread.join(timeout=10)
    context.close()


def test_a_release_is_asked_approved_acknowledged_and_printed_each_by_its_own_party(open_session, demo):
    """delta-foods asks for one item of lot-nb-1, bank-south approves (a delivery order), the
    keeper of wh-ningbo acknowledges and prints it; wh-qingdao's keeper sees none of it."""
    borrower, lender, keeper, other = (open_session(who) for who in ("delta-foods", "bank-south", "wh-ningbo",
                                                                      "wh-qingdao"))
    borrower.sign_in("releases")
    assert borrower.page.locator("#release-form").count() == 1, borrower.page.inner_text("#view")
    borrower.page.select_option("#release-lot", "loan-delta-1|lot-nb-1")
    borrower.page.fill("#release-items", "1")
    borrower.page.click("#release-submit")
    borrower.page.locator("#toasts .toast", has_text="Release from lot-nb-1 asked").wait_for()
    [asked] = demo.get("/loans/loan-delta-1/releases", "bank-south")
    assert borrower.page.locator(f"#approve-{asked['id']}").count() == 0      # a borrower never approves

    lender.sign_in("releases")
    assert lender.page.locator("#release-form").count() == 0                  # a lender never asks
    lender.page.click(f"#approve-{asked['id']}")
    lender.page.locator("#toasts .toast").first.wait_for()
    assert lender.page.inner_text("#toasts") == f"Release {asked['id']} approved: delivery order issued."

    [order] = demo.get("/delivery-orders", "wh-ningbo")
    keeper.sign_in("releases")
    keeper.page.click(f"#acknowledge-{order['id']}")
    keeper.page.locator(f"#order-{order['id']}[data-state=acknowledged]").wait_for()
    with keeper.page.expect_popup() as popup:
        keeper.page.click(f"#print-{order['id']}")
    popup.value.wait_for_load_state()
    printed = popup.value.content()
    assert order["epcs"][0] in printed and order["signature"] in printed

    other.sign_in("releases")
    assert other.page.locator("#orders-table").count() == 0 and order["id"] not in other.page.inner_text("#view")
