"""What a bank receives: a CloudEvents 1.0 JSON body under Standard Webhooks headers.

    webhook-id: <event id>            (the CloudEvent's `id`; the same on every retry)
    webhook-timestamp: <unix seconds>  (of this attempt)
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>"> [v1,<...>]
                       v1a,<base64 Ed25519 signature of the same bytes>

The HMAC key is the endpoint's `whsec_<base64>` secret, base64-decoded. During a secret
rotation both secrets sign, space-separated, so the bank can switch at its own pace.
The `v1a` signature (Standard Webhooks' asymmetric scheme) is by the backend's webhook key,
whose public half (`whpk_<base64 of the 32 raw bytes>`) is published at
/.well-known/pledgewatch/webhook-keys: unlike the shared HMAC secret it proves to a third
party that the webhook came from us. Tests verify `v1` with the `standardwebhooks` package,
as a bank would, and `v1a` per the spec (that package's Python release has no `v1a`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random_secrets
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.domain.notices import BankNotice

CONTENT_TYPE = "application/cloudevents+json"
SECRET_PREFIX = "whsec_"
PUBLIC_KEY_PREFIX = "whpk_"
EVENT_SOURCE = "/pledgewatch/alerts"
CHANGES = ("opened", "resolved", "superseded", "reminder")


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, event_id: str, timestamp_s: int, body: bytes) -> str:
    signed = f"{event_id}.{timestamp_s}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def sign_v1a(key: Ed25519PrivateKey, event_id: str, timestamp_s: int, body: bytes) -> str:
    return "v1a," + base64.b64encode(key.sign(f"{event_id}.{timestamp_s}.".encode() + body)).decode()


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as Standard Webhooks serializes it: `whpk_` and base64 of the raw 32 bytes."""
    return PUBLIC_KEY_PREFIX + base64.b64encode(key.public_bytes_raw()).decode()


def delivery_headers(secrets: Sequence[str], event_id: str, timestamp_s: int, body: bytes,
                     key: Ed25519PrivateKey | None = None) -> dict[str, str]:
    signatures = [sign(s, event_id, timestamp_s, body) for s in secrets]
    if key is not None:
        signatures.append(sign_v1a(key, event_id, timestamp_s, body))
    return {"content-type": CONTENT_TYPE, "webhook-id": event_id, "webhook-timestamp": str(timestamp_s),
            "webhook-signature": " ".join(signatures)}


class StandardWebhooks:
    """The signing scheme as the relay and the endpoint service use it (WebhookSigner);
    with `key`, every delivery is also signed `v1a` (Ed25519)."""

    def __init__(self, key: Ed25519PrivateKey | None = None) -> None:
        self.key = key

    def new_secret(self) -> str:
        return new_secret()

    def headers(self, secrets: Sequence[str], event_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
        return delivery_headers(secrets, event_id, timestamp_s, body, self.key)

    def public_keys(self) -> list[str]:
        return [public_key_text(self.key.public_key())] if self.key else []


def event_type(alert_type: str, change: str) -> str:
    """CloudEvents `type`, e.g. `com.pledgewatch.margin_call.opened`."""
    return f"com.pledgewatch.{alert_type}.{change}"


def event_id(alert_id: str, change: str, reminder: int | None = None) -> str:
    """Deterministic: the same happening always has the same id (and webhook-id)."""
    return f"{alert_id}.{change}" if reminder is None else f"{alert_id}.{change}.{reminder}"


def iso_time(at_s: float) -> str:
    return datetime.fromtimestamp(at_s, timezone.utc).isoformat().replace("+00:00", "Z")


def alert_event_body(alert: Mapping[str, Any], change: str, at_s: float, reminder: int | None = None) -> str:
    """The CloudEvent as the exact text sent on every attempt.

    `alert` holds id, type, severity, state, opened_at_s, loan, lot, lender, details."""
    data = {**alert, "change": change}
    if reminder is not None:
        data["reminder"] = reminder
    event = {"specversion": "1.0", "id": event_id(alert["id"], change, reminder), "source": EVENT_SOURCE,
             "type": event_type(alert["type"], change), "subject": alert.get("loan") or alert.get("lot") or alert["id"],
             "time": iso_time(at_s), "datacontenttype": "application/json", "data": data}
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)


def notice_event_body(notice: BankNotice) -> str:
    """A notice as a CloudEvent (`com.pledgewatch.<topic>.<change>`)."""
    event = {"specversion": "1.0", "id": notice.id, "source": notice.source,
             "type": f"com.pledgewatch.{notice.topic}.{notice.change}", "subject": notice.subject,
             "time": iso_time(notice.at_s), "datacontenttype": "application/json",
             "data": {**notice.data, "change": notice.change}}
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)


def ping_event_body(event_id: str, endpoint_id: str, lender: str, at_s: float) -> str:
    """`com.pledgewatch.ping`: a test delivery a bank asks for, to check its receiver."""
    event = {"specversion": "1.0", "id": event_id, "source": "/pledgewatch/webhooks", "type": "com.pledgewatch.ping",
             "subject": endpoint_id, "time": iso_time(at_s), "datacontenttype": "application/json",
             "data": {"endpoint": endpoint_id, "lender": lender}}
    return json.dumps(event, sort_keys=True, separators=(",", ":"))
