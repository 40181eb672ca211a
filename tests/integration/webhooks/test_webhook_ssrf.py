"""The SSRF guard: which addresses are refused, and that a delivery goes to the address
that was checked (pinned), with the original Host header."""
from __future__ import annotations

import time

import pytest
from bank_receiver import Receiver

from backend.adapters.webhook_cloudevents import delivery_headers, new_secret
from backend.adapters.webhook_http import HttpSender, check_target, forbidden
from backend.ports.webhooks import BlockedTarget


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.8", "172.16.3.4", "192.168.1.1", "169.254.169.254",
                                     "0.0.0.0", "100.64.0.1", "224.0.0.1", "::1", "fe80::1", "fc00::1",
                                     "::ffff:127.0.0.1", "::ffff:10.1.1.1"])
def test_internal_addresses_are_forbidden(address):
    assert forbidden(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert not forbidden(address)


def test_a_name_with_any_internal_address_is_refused_and_credentials_never_pass():
    resolver = lambda host, port: {"bank.example": ["93.184.216.34", "10.0.0.5"]}[host]  # noqa: E731
    with pytest.raises(BlockedTarget):
        check_target("https://bank.example/hook", False, resolver)
    with pytest.raises(BlockedTarget):
        check_target("https://user:pw@bank.example/hook", True, resolver)
    target = check_target("https://bank.example:8443/hook?x=1", True, resolver)
    assert (target.url, target.host_header, target.server_name) == (
        "https://93.184.216.34:8443/hook?x=1", "bank.example:8443", "bank.example")


def test_the_request_goes_to_the_checked_address_under_the_original_host():
    bank = Receiver(secrets=[new_secret()])
    try:
        port = bank.server.server_address[1]
        sender = HttpSender(allow_private=True, resolver=lambda host, p: ["127.0.0.1"] if host == "bank.example" else [])
        body = b'{"specversion":"1.0"}'
        result = sender.send(f"http://bank.example:{port}{bank.path}",
                             delivery_headers(bank.secrets, "ev-1", int(time.time()), body), body)
        assert result.status_code == 200 and result.error is None
        [delivery] = bank.deliveries
        assert delivery.headers["host"] == f"bank.example:{port}" and delivery.verified
        refused = HttpSender(allow_private=False, resolver=lambda host, p: ["127.0.0.1"]).send(
            f"http://bank.example:{port}{bank.path}", {}, body)
        assert refused.blocked and len(bank.deliveries) == 1
    finally:
        bank.stop()
