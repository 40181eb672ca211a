"""A paho client set up for our broker: protocol level, credentials, TLS."""
from __future__ import annotations

import paho.mqtt.client as mqtt

from edge.protocol.broker import BrokerSettings


def paho_client(broker: BrokerSettings, client_id: str, **options) -> mqtt.Client:
    v5 = broker.protocol == 5
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, **options)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set(ca_certs=str(broker.tls.ca_file),
                       certfile=broker.tls.cert_file and str(broker.tls.cert_file),
                       keyfile=broker.tls.key_file and str(broker.tls.key_file))
    return client
