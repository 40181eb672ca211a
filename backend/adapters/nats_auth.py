"""Per-gateway accounts on a NATS cluster's MQTT listeners: the `authorization` block of the
nodes' config, generated from the registered gateways (docs/security.md; the Mosquitto
counterpart is mosquitto_auth.py).

NATS checks an MQTT client's PUBLISH and SUBSCRIBE against the user's permissions on the
NATS subject of the topic (`pw/v1/gw-1/data` -> `pw.v1.gw-1.data`). A gateway logs in as its
own id, over MQTT only, and may publish only its own `data`, `state`, `heartbeat`,
`cmd-result` and `drops`, and subscribe only to its own `ack` and `cmd` (at QoS 0, as the
agent does on NATS: a QoS 1 subscription needs `$MQTT.sub.>`, the delivery subjects of
every session, which a gateway is not given). A refused publish is dropped by the server
(an MQTT 3.1.1 client cannot be told) and logged as a permissions violation. The backend's
user may do everything: it reads the stream, acks every gateway and manages JetStream.
"""
from __future__ import annotations

import json
import secrets

from edge import protocol


def new_password() -> str:
    return secrets.token_urlsafe(24)


def gateway_permissions(gateway: str) -> dict:
    subjects = lambda channels: [protocol.nats_subject(protocol.topic(gateway, c)) for c in channels]  # noqa: E731
    return {"publish": {"allow": subjects(protocol.FROM_GATEWAY)},
            "subscribe": {"allow": subjects(protocol.TO_GATEWAY)}}


def authorization_block(backend_user: str, backend_password: str, gateway_passwords: dict[str, str]) -> str:
    """The nodes' `authorization { users: [...] }` (NATS config accepts JSON values)."""
    users = [{"user": backend_user, "password": backend_password}]
    users += [{"user": gateway, "password": password, "allowed_connection_types": ["MQTT"],
               "permissions": gateway_permissions(gateway)} for gateway, password in gateway_passwords.items()]
    return "authorization {\n  users: " + json.dumps(users, indent=2) + "\n}\n"
