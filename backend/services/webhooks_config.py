"""Settings of bank webhooks and the e-mail channel (part of BackendSettings)."""
from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

# Delay before retry n (after attempt n failed), in seconds: 5 s, 30 s, 2 min, 10 min,
# 30 min, 1 h, 3 h, 6 h, 12 h, 24 h: eleven attempts over about two days. Each delay is
# jittered by ±jitter_fraction; a Retry-After longer than the delay wins (up to a day).
DEFAULT_SCHEDULE_S = [5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200, 86400]


class EmailSettings(BaseModel):
    model_config = {"extra": "forbid"}
    host: str
    port: int = Field(25, ge=1, le=65535)
    sender: str = "pledgewatch@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    admins: list[str] = Field(default_factory=list)  # told when an endpoint is disabled
    reminders_to: list[str] = Field(default_factory=list)  # told of unacknowledged critical alerts


class WebhookSettings(BaseModel):
    model_config = {"extra": "forbid"}
    relay: bool = True  # run the delivery relay inside the monitor role's process
    poll_interval_s: float = Field(0.5, gt=0)  # how often the relay looks for due rows (also woken)
    retry_schedule_s: list[float] = Field(default_factory=lambda: list(DEFAULT_SCHEDULE_S))
    jitter_fraction: float = Field(0.2, ge=0, lt=1)
    max_retry_after_s: float = Field(86_400, gt=0)
    timeout_s: float = Field(10.0, gt=0)
    lease_s: float = Field(60.0, gt=0)  # a row a relay took and never finished is retried after this
    batch_size: int = Field(50, ge=1, le=1000)
    rotation_overlap_s: float = Field(86_400, ge=0)  # both secrets sign for this long
    renotify_after_s: float = Field(1800, ge=0)  # unacknowledged critical alert reminder; 0: off
    email: EmailSettings | None = None

    @field_validator("retry_schedule_s")
    @classmethod
    def _positive(cls, schedule: list[float]) -> list[float]:
        if any(delay <= 0 for delay in schedule):
            raise ValueError("every retry delay must be above zero seconds")
        return schedule
