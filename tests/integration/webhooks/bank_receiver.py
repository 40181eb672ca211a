"""A bank's webhook receiver over real HTTP, for tests: verifies every delivery with the
`standardwebhooks` package, answers from a script, and remembers what it accepted."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    received_at_s: float
    verified: bool
    status: int
    complete: bool = True  # False: the sender died mid-body (a kill -9)

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`script`: the statuses to answer, in order (then 200). `secrets`: every secret that
    must verify each delivery (a rotation check passes both)."""

    secrets: list[str] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)
    path: str = "/hooks/pledgewatch"

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", -1))  # torn headers: none
                body = self.rfile.read(max(length, 0))
                receiver._handle(self, body, complete=len(body) == length)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="bank-receiver", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def _verify(self, headers: dict[str, str], body: bytes) -> bool:
        try:
            for secret in self.secrets:
                Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            return False
        return bool(self.secrets)

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes, complete: bool) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        verified = self._verify(headers, body)
        with self.lock:
            status, extra = self.script.pop(0) if self.script else (200, {})
            if not verified:
                status, extra = 401, {}
            delivery = Delivery(headers.get("webhook-id", ""), headers, body, time.time(), verified, status,
                                complete)
            self.deliveries.append(delivery)
            if 200 <= status < 300:
                self.accepted_ids.append(delivery.webhook_id)
            self.arrived.notify_all()
        if not complete:
            return  # nobody is listening for an answer
        handler.send_response(status)
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.send_header("content-length", "0")
        handler.end_headers()

    def wait_for(self, predicate, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.arrived.wait(remaining)
            return True

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
