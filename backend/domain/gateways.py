"""Gateway health: offline, tampered (failed signatures), clock skew.

These are monitoring gaps, reported as what they are. While a gateway is not delivering
trusted messages its lots are simply not assessed: silence is never read as theft. Messages
with failing signatures beside trusted ones (someone with the gateway's MQTT login, not its
key) are tampering, reported, but they never stop what the trusted readings show.
"""
from __future__ import annotations

from operator import attrgetter
from typing import NamedTuple, Sequence

from backend.domain.alerts import Condition
from backend.domain.config import MonitorConfig
from backend.domain.observations import GatewayMessage

_SENT_AT_S = attrgetter("sent_at_s")


class GatewayTrack(NamedTuple):               # rebuilt per gateway per step
    watched_since_s: float                     # when the monitor started listening
    last_message_s: float | None = None        # any message, trusted or not (receipt time)
    last_good_s: float | None = None
    healthy_since_s: float | None = None       # trusted messages without a gap since then
    last_bad_signature_s: float | None = None
    clock_offset_s: float = 0.0                # device clock − backend clock, newest message


def track_gateway(previous: GatewayTrack, messages: Sequence[GatewayMessage], now_s: float,
                  config: MonitorConfig) -> GatewayTrack:
    if not messages:
        return previous
    good_s = [m.received_at_s for m in messages if m.signature_ok]
    bad_s = [m.received_at_s for m in messages if not m.signature_ok]
    newest = max(messages, key=_SENT_AT_S)
    healthy_since_s = previous.healthy_since_s
    if good_s and not is_healthy(previous, now_s, config):
        healthy_since_s = now_s                # trusted messages again, after none lately
    return GatewayTrack(previous.watched_since_s,
                        max(m.received_at_s for m in messages),             # last message
                        max(good_s, default=previous.last_good_s),
                        healthy_since_s,
                        max(bad_s, default=previous.last_bad_signature_s),
                        newest.sent_at_s - newest.received_at_s)            # clock offset


def is_healthy(track: GatewayTrack, now_s: float, config: MonitorConfig) -> bool:
    """Delivering trusted messages right now: its lots can be assessed."""
    return (track.healthy_since_s is not None and track.last_good_s is not None
            and now_s - track.last_good_s < config.stale_after_s)


def gateway_conditions(gateway_id: str, track: GatewayTrack, now_s: float,
                       config: MonitorConfig) -> list[Condition]:
    conditions = []
    heard_s = track.last_message_s if track.last_message_s is not None else track.watched_since_s
    silent_s = now_s - heard_s
    if silent_s >= config.silent_after_s:
        conditions.append(Condition("gateway_offline", gateway_id, gateway=gateway_id,
                                    details={"silent_s": int(silent_s)}))
    bad_s = track.last_bad_signature_s
    if bad_s is not None and now_s - bad_s < config.silent_after_s:
        conditions.append(Condition("tamper_detected", gateway_id, gateway=gateway_id,
                                    details={"reason": "signature verification failed"}))
    if silent_s < config.silent_after_s and abs(track.clock_offset_s) > config.max_clock_skew_s:
        conditions.append(Condition("clock_skew", gateway_id, gateway=gateway_id,
                                    details={"offset_s": int(track.clock_offset_s)}))
    return conditions
