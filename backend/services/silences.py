"""Silences: staff quiet a warehouse's, a gateway's or an alert type's alerts for a while.
The alerts are still raised, stored and sent to banks, each marked with the silence."""
from __future__ import annotations

import secrets
from typing import Callable, Sequence

from backend.domain.alerts import ALERT_TYPES
from backend.domain.registry import Registry
from backend.domain.silences import MAX_SILENCE_S, Scope, Silence, silencing
from backend.ports.alerts import AlertRecord, SilenceStore
from backend.services import access
from backend.services.api_keys import Principal


class SilenceRefused(ValueError):
    """The silence cannot be set: the message says why (400)."""


class SilenceService:
    def __init__(self, *, store: SilenceStore, registry: Callable[[], Registry], clock: Callable[[], float]) -> None:
        self.store, self.registry, self.clock = store, registry, clock

    def silence(self, caller: Principal, scope: Scope, value: str, reason: str, for_s: float) -> Silence:
        if not access.is_staff(caller):
            raise PermissionError("silences are set by the collateral manager's staff")
        if not 0 < for_s <= MAX_SILENCE_S:
            raise SilenceRefused(f"a silence lasts more than 0 s and at most {MAX_SILENCE_S} s (30 days)")
        now_s = self.clock()
        silence = Silence(f"sil-{secrets.token_hex(6)}", scope, value, self._gateway(scope, value), reason,
                          caller.name, now_s, now_s + for_s)
        self.store.add(silence)
        return silence

    def _gateway(self, scope: Scope, value: str) -> str | None:
        registry = self.registry()
        if scope == "type":
            if value not in ALERT_TYPES:
                raise SilenceRefused(f"no alert type {value!r}")
            return None
        if scope == "warehouse":
            if value not in registry.warehouses:
                raise SilenceRefused(f"no warehouse {value!r}")
            return registry.warehouses[value].gateway_id
        if value not in registry.gateways:
            raise SilenceRefused(f"no gateway {value!r}")
        return value

    def running(self) -> list[Silence]:
        return self.store.active(self.clock())

    def end(self, caller: Principal, silence_id: str) -> bool:
        if not access.is_staff(caller):
            raise PermissionError("silences are ended by the collateral manager's staff")
        return self.store.end(silence_id, self.clock())

    def silenced_by(self, records: Sequence[AlertRecord]) -> dict[str, str]:
        """Alert id → the silence covering it now, for those that one covers."""
        running, now_s = self.running(), self.clock()
        if not running:
            return {}
        return {r.id: s.id for r in records if (s := silencing(running, r.type, r.gateway, now_s)) is not None}
