"""Why a peer's message is refused: DecodeError, with a machine-readable reason."""
from __future__ import annotations

DECODE_REASONS = (
    "oversize", "bad_json", "non_finite", "wrong_type", "missing_field", "unknown_field",
    "unsupported_version", "invalid_id", "batch_size", "unknown_kind", "negative_weight",
    "out_of_range", "gateway_mismatch", "bad_topic", "bad_signature",
)


class DecodeError(ValueError):
    """The other side sent something we refuse; `reason` is one of DECODE_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in DECODE_REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
