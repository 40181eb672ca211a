"""Browser tests: Debian's chromium driven by Playwright against a running `pledgewatch demo`.

One demo (broker, backend, simulated warehouses) serves the whole module; each test opens
its own browser context, fails on any console error, and leaves a screenshot under
test-artifacts/browser/.
"""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from browser_demo import Demo, wait_until

from backend.demo.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 800}


def keep_demo_logs(state: Path, name: str) -> Path:
    """The demo's own log and every child's, kept under test-artifacts (pytest's tmp goes away)."""
    kept = ARTIFACTS / f"{name}-demo-logs"
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir(parents=True)
    for log in [state / "demo.log", *(state / "run" / "logs").glob("*.log")]:
        if log.exists():
            shutil.copy(log, kept / log.name)
    return kept


@pytest.fixture(scope="module")
def demo(tmp_path_factory, request):
    state = tmp_path_factory.mktemp("demo")
    port = free_port()
    with open(state / "demo.log", "w") as log:  # no --duration: it would race a slow machine
        process = subprocess.Popen([sys.executable, "-m", "backend.cli", "demo", "--no-browser",
                                    "--state-dir", str(state / "run"), "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    died = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: process.poll() is None and httpx.get(f"{base}/api/v1/health", timeout=2).is_success,
                   90, "the demo's backend")
        running = Demo(base, json.loads((state / "run" / "api-keys.json").read_text()))
        wait_until(lambda: all(loan["ltv"] for loan in running.get("/loans")), 90, "every loan valued")
        yield running
        died = process.poll()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        kept = keep_demo_logs(state, request.module.__name__.rsplit(".", 1)[-1])
    assert died is None, f"the demo stopped during the tests (status {died}); its logs: {kept}"


@pytest.fixture(scope="module")  # Playwright's loop must be gone before tests that call asyncio.run
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("chromium is not installed: run `make test`, which installs it")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Session:
    """A browser tab signed in as one caller, recording console errors and request URLs."""

    def __init__(self, browser, demo: Demo, who: str, viewport: dict, **context_options) -> None:
        self.demo, self.who = demo, who
        self.context = browser.new_context(viewport=viewport, **context_options)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)  # generous: the suite must pass on a machine 3x slower
        self.console_errors: list[str] = []
        self.expected_errors: list[str] = []  # texts of console errors a test causes on purpose
        self.requested_urls: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        self.page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))
        self.page.on("request", lambda request: self.requested_urls.append(request.url))

    def sign_in(self, route: str = "overview") -> None:
        self.page.goto(f"{self.demo.base}/")
        self.page.fill("#api-key", self.demo.key(self.who))
        self.page.click("#sign-in-form button[type=submit]")
        self.page.wait_for_selector("#view h1")
        if route != "overview":
            self.go(route)

    def go(self, route: str) -> None:
        self.page.evaluate("route => { location.hash = route; }", f"#/{route}")
        self.page.wait_for_function("route => document.getElementById('view').dataset.shown === route",
                                    arg=f"#/{route}")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def open_session(browser, demo, request):
    """open_session(who, viewport=DESKTOP, **context_options) → a signed-out Session (options such as
    locale go to Playwright's new_context); all are checked and closed after."""
    sessions: list[Session] = []

    def open_(who: str, viewport: dict = DESKTOP, **context_options) -> Session:
        sessions.append(Session(browser, demo, who, viewport, **context_options))
        return sessions[-1]

    yield open_
    for index, session in enumerate(sessions):
        session.screenshot(f"{request.node.name}-{session.who}-{index}")
        session.context.close()
    for session in sessions:
        unexpected = [error for error in session.console_errors
                      if not any(text in error for text in session.expected_errors)]
        assert unexpected == [], f"console errors as {session.who}: {unexpected}"
        leaked = [url for url in session.requested_urls if session.demo.key(session.who) in url]
        assert leaked == [], "the API key appeared in a URL"
