"""PledgeWatch wire protocol, version 1: the one definition of topics and payloads.

Everything that crosses MQTT is spelled here and nowhere else; the edge agent, the backend
and the simulators import it, and of `edge` the backend and the simulators import nothing
else. docs/protocol.md describes the same format for people (with a real example).

    topics.py    pw/v1/<gateway>/<channel>: who publishes what
    envelope.py  the messages as values, and the limits every side keeps
    codec.py     bytes <-> values, strictly validated (DecodeError, errors.py, says why)
    signing.py   Ed25519 signatures over the canonical bytes, one context per message type
    keys.py      key pairs as PEM files
    broker.py    the `broker:` settings block of every role
    settings.py  how a role reads its settings (YAML file, then PW_* environment)
    wire_fast.py the backend's faster reader of data messages (orjson, PyNaCl)

The modules of the format itself (topics to keys) import only the standard library and
`cryptography`; settings use pydantic; wire_fast is the backend's, never imported here.
This package's names below are the format; keys, broker, settings and wire_fast are
imported by their own module path.
"""
from edge.protocol.codec import (
    decode,
    decode_ack,
    decode_command,
    decode_command_result,
    decode_drops,
    decode_heartbeat,
    decode_state,
    encode,
    encode_ack,
    encode_command,
    encode_command_result,
    encode_drops,
    encode_heartbeat,
    encode_state,
    to_ranges,
)
from edge.protocol.envelope import (
    COMMAND_STATUSES,
    COMMANDS,
    MAX_MESSAGE_BYTES,
    MAX_READINGS_PER_MESSAGE,
    MAX_SEQS_PER_NOTICE,
    PROTOCOL_VERSION,
    QUALITIES,
    READING_KINDS,
    Ack,
    Command,
    CommandResult,
    DropNotice,
    Envelope,
    GatewayState,
    Heartbeat,
    Reading,
    Signature,
    command_window_error,
)
from edge.protocol.errors import DECODE_REASONS, DecodeError
from edge.protocol.signing import (
    ACK_SIGNING_CONTEXT,
    COMMAND_RESULT_SIGNING_CONTEXT,
    COMMAND_SIGNING_CONTEXT,
    DATA_SIGNING_CONTEXT,
    DROPS_SIGNING_CONTEXT,
    SIGNATURE_ALG,
    Signer,
    canonical_bytes,
    key_fingerprint,
    verify,
    verify_ack,
    verify_command,
    verify_command_result,
    verify_drops,
    verify_signature,
)
from edge.protocol.topics import (
    CHANNELS,
    FROM_GATEWAY,
    TO_GATEWAY,
    TOPIC_ROOT,
    mqtt_topic,
    nats_subject,
    parse_topic,
    subject_filter,
    subscription,
    topic,
)

__all__ = [
    "ACK_SIGNING_CONTEXT", "CHANNELS", "COMMAND_RESULT_SIGNING_CONTEXT", "COMMAND_SIGNING_CONTEXT",
    "COMMAND_STATUSES", "COMMANDS", "DATA_SIGNING_CONTEXT", "DECODE_REASONS", "DROPS_SIGNING_CONTEXT",
    "FROM_GATEWAY", "MAX_MESSAGE_BYTES", "MAX_READINGS_PER_MESSAGE", "MAX_SEQS_PER_NOTICE",
    "PROTOCOL_VERSION", "QUALITIES", "READING_KINDS", "SIGNATURE_ALG", "TO_GATEWAY", "TOPIC_ROOT",
    "Ack", "Command", "CommandResult", "DecodeError", "DropNotice", "Envelope", "GatewayState",
    "Heartbeat", "Reading", "Signature", "Signer",
    "canonical_bytes", "command_window_error", "decode", "decode_ack", "decode_command",
    "decode_command_result", "decode_drops", "decode_heartbeat", "decode_state", "encode",
    "encode_ack", "encode_command", "encode_command_result", "encode_drops", "encode_heartbeat",
    "encode_state", "key_fingerprint", "mqtt_topic", "nats_subject", "parse_topic", "subject_filter",
    "subscription", "to_ranges", "topic",
    "verify", "verify_ack", "verify_command", "verify_command_result", "verify_drops",
    "verify_signature",
]
