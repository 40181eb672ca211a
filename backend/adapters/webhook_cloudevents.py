"""What a bank receives: a CloudEvents 1.0 JSON body under Standard Webhooks headers.

    webhook-id: <event id>            (the CloudEvent's `id`; the same on every retry)
    webhook-timestamp: <unix seconds>  (of this attempt)
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>"> [v1,<...>]

The key is the endpoint's `whsec_<base64>` secret, base64-decoded. During a secret
rotation both secrets sign, space-separated, so the bank can switch at its own pace.
The signing is the spec's three lines of stdlib HMAC; tests verify it with the
`standardwebhooks` package, as a bank would.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random_secrets
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from backend.domain.notices import BankNotice

CONTENT_TYPE = "application/cloudevents+json"
SECRET_PREFIX = "whsec_"
EVENT_SOURCE = "/pledgewatch/alerts"
CHANGES = ("opened", "resolved", "superseded", "reminder")


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, event_id: str, timestamp_s: int, body: bytes) -> str:
    signed = f"{event_id}.{timestamp_s}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def delivery_headers(secrets: Sequence[str], event_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    return {"content-type": CONTENT_TYPE, "webhook-id": event_id, "webhook-timestamp": str(timestamp_s),
            "webhook-signature": " ".join(sign(s, event_id, timestamp_s, body) for s in secrets)}


class StandardWebhooks:
    """The signing scheme as the relay and the endpoint service use it (WebhookSigner)."""

    def new_secret(self) -> str:
        return new_secret()

    def headers(self, secrets: Sequence[str], event_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
        return delivery_headers(secrets, event_id, timestamp_s, body)


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
