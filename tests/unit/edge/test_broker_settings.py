"""The `broker:` block: one host and port, or a list of broker URLs to fail over between."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.settings import BackendSettings
from edge.protocol.broker import BrokerSettings


def test_without_urls_the_one_broker_is_host_and_port():
    assert BrokerSettings(host="mq.example", port=1884).endpoints() == [("mq.example", 1884)]


def test_urls_are_tried_in_the_order_given_with_the_default_port():
    broker = BrokerSettings(urls=["mqtt://n1.example:1884", "mqtt://n2.example"], protocol=4)
    assert broker.endpoints() == [("n1.example", 1884), ("n2.example", 1883)]


@pytest.mark.parametrize(("fields", "names"), [
    ({"urls": ["http://n1:1883"]}, "urls.0"),
    ({"urls": ["mqtt://n1:99999"]}, "urls.0"),
    ({"urls": ["mqtt://n1:1883/path"]}, "urls.0"),
    ({"urls": ["mqtt://n1:1883"], "port": 1884}, "broker.urls or broker.host/port"),
    ({"urls": ["mqtts://n1:8883"]}, "without the tls block"),
])
def test_a_bad_broker_list_fails_naming_the_field(fields, names):
    with pytest.raises(ValidationError, match=names.replace(".", r"\.")):
        BrokerSettings(**fields)


def test_ingest_source_is_checked_at_start_up():
    with pytest.raises(ValidationError, match=r"ingest\.source"):
        BackendSettings(ingest={"source": "kafka"})
    with pytest.raises(ValidationError, match=r"ingest\.jetstream\.servers"):
        BackendSettings(ingest={"source": "jetstream"})
    settings = BackendSettings(ingest={"source": "jetstream", "jetstream": {"servers": ["nats://n1:4222"]}})
    assert settings.ingest.jetstream.durable == "pw-ingest"
