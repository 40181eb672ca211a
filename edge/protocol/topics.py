"""Topics: `pw/v1/<gateway>/<channel>` (``<gw>`` is the gateway id).

    pw/v1/<gw>/data   gateway -> backend   signed batch of readings (QoS 1)
    pw/v1/<gw>/state  gateway -> all       birth / death (retained; death is the will)
    pw/v1/<gw>/ack    backend -> gateway   seqs stored / refused / known dropped, per boot epoch
    pw/v1/<gw>/drops  gateway -> backend   seqs its outbox size cap dropped unsent, signed
    pw/v1/<gw>/heartbeat  gateway -> all   liveness and counters every N s (QoS 0)
    pw/v1/<gw>/cmd    backend -> gateway   remote command, signed by the backend's command key
    pw/v1/<gw>/cmd-result gateway -> backend  what came of a command, signed by the gateway

On a NATS cluster's MQTT listener a topic is the NATS subject `pw.v1.<gw>.<channel>`: `/`
becomes `.` and a `.` in a level becomes `//` (nats-server 2.10 on; 2.9 refuses such topics).
"""
from __future__ import annotations

import re

from edge.protocol.errors import DecodeError

TOPIC_ROOT = "pw/v1"
FROM_GATEWAY = ("data", "state", "heartbeat", "cmd-result", "drops")  # what a gateway publishes
TO_GATEWAY = ("ack", "cmd")  # what the backend publishes to one gateway (the broker ACL follows both)
CHANNELS = FROM_GATEWAY + TO_GATEWAY
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a gateway or sensor id


def topic(gateway: str, channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if not IDENTIFIER.match(gateway):
        raise ValueError(f"invalid gateway id {gateway!r}")
    return f"{TOPIC_ROOT}/{gateway}/{channel}"


def subscription(channel: str, share_group: str | None = None) -> str:
    """Filter for one channel of every gateway, optionally as an MQTT 5 shared subscription."""
    pattern = f"{TOPIC_ROOT}/+/{channel}"
    return f"$share/{share_group}/{pattern}" if share_group else pattern


def nats_subject(mqtt_topic: str) -> str:
    """The NATS subject an MQTT topic arrives on (or a NATS publish reaches MQTT subscribers
    of): 'pw/v1/gw-1/data' -> 'pw.v1.gw-1.data'. Our topics have no empty level."""
    return ".".join(level.replace(".", "//") for level in mqtt_topic.split("/"))


def mqtt_topic(nats_subject: str) -> str:
    """The inverse of `nats_subject`: 'pw.v1.gw-1.data' -> 'pw/v1/gw-1/data'."""
    return "/".join(token.replace("//", ".") for token in nats_subject.split("."))


def subject_filter(channel: str) -> str:
    """NATS filter for one channel of every gateway: 'pw.v1.*.data'."""
    return f"{nats_subject(TOPIC_ROOT)}.*.{channel}"


def parse_topic(name: str) -> tuple[str, str]:
    """'pw/v1/gw-1/data' -> ('gw-1', 'data')."""
    parts = name.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT or parts[3] not in CHANNELS \
            or not IDENTIFIER.match(parts[2]):
        raise DecodeError("bad_topic", f"not a {TOPIC_ROOT} topic: {name!r}")
    return parts[2], parts[3]
