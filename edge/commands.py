"""Remote commands on the gateway: refuse anything the backend did not sign, run the rest.

Checks, in order: the envelope decodes and names this gateway; it is signed by the
backend's command key (from the edge config); its validity window is short and contains
now; its id was never seen (ids are remembered in the outbox until they expire). Then
the command runs, and the result is signed with the gateway key in force BEFORE it ran
(after `rotate_key`, the old key vouches for the new one).
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Mapping, Protocol

from edge import protocol
from edge.config import CommandSettings
from edge.protocol.keys import load_public_key

log = logging.getLogger("pledgewatch.edge.commands")


class CommandRefused(Exception):
    """The command is not run; the message says why (sent back as `detail`)."""


class CommandActions(Protocol):
    def set_interval(self, driver_index: int, every_s: float) -> Mapping[str, Any]: ...

    async def rotate_key(self) -> Mapping[str, Any]: ...

    def current_signer(self) -> protocol.Signer | None: ...


class CommandHandler:
    def __init__(self, gateway: str, settings: CommandSettings, actions: CommandActions,
                 remember: Callable[[str, int, int], Awaitable[bool]], clock: Callable[[], float]) -> None:
        self.gateway, self.settings, self.actions = gateway, settings, actions
        self.remember, self.clock = remember, clock
        self._backend_key = (load_public_key(settings.backend_public_key_pem)
                             if settings.backend_public_key_pem else None)

    async def handle(self, payload: bytes, topic: str) -> tuple[protocol.CommandResult, bytes] | None:
        """The result and its signed wire bytes; None when there is no one to answer."""
        try:
            command = protocol.decode_command(payload, topic)
        except protocol.DecodeError as exc:
            log.warning("ignoring an undecodable command: %s", exc)
            return None
        signer = self.actions.current_signer()
        try:
            await self._check(command)
            status, detail, result = "ok", "", await self._run(command)
        except CommandRefused as exc:
            status, detail, result = "refused", str(exc), {}
        except Exception as exc:  # the command was valid; running it failed: say so
            log.exception("command %s (%s) failed", command.id, command.name)
            status, detail, result = "failed", f"{type(exc).__name__}: {exc}"[:500], {}
        log.info("command %s %s: %s %s", command.id, command.name, status, detail)
        outcome = protocol.CommandResult(self.gateway, command.id, command.name, status, detail,
                                         result, round(self.clock() * 1000))
        return outcome, protocol.encode_command_result(outcome, signer)

    async def _check(self, command: protocol.Command) -> None:
        if self._backend_key is None:
            raise CommandRefused("no backend command key configured: commands are off")
        try:
            protocol.verify_command(command, self._backend_key)
        except protocol.DecodeError as exc:
            raise CommandRefused(f"bad_signature: {exc.detail}") from exc
        now_ms = round(self.clock() * 1000)
        why = protocol.command_window_error(command, now_ms, round(self.settings.max_ttl_s * 1000),
                                            round(self.settings.clock_skew_s * 1000))
        if why:
            raise CommandRefused(why)
        if not await self.remember(command.id, command.expires_at_ms, now_ms):
            raise CommandRefused("replayed: this command id was already received")

    async def _run(self, command: protocol.Command) -> Mapping[str, Any]:
        args = command.args
        if command.name == "set_interval":
            index, every_s = args.get("driver_index"), args.get("every_s")
            if type(index) is not int or type(every_s) not in (int, float) or not 0 < every_s <= 86_400:
                raise CommandRefused("set_interval needs driver_index (int) and every_s (0 < s <= 86400)")
            return self.actions.set_interval(index, float(every_s))
        if args:
            raise CommandRefused(f"{command.name} takes no arguments")
        if command.name == "rotate_key":
            return await self.actions.rotate_key()
        return {}  # rebirth: the uplink publishes the birth message once this is acknowledged
