"""Fixtures shared by the webhook and report delivery tests."""
from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from backend.demo.ports import free_port


class Inbox:
    """A bank's mail server: every message kept as (recipients, raw bytes)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()
