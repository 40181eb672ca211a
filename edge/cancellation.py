"""A stop that Python 3.11 loses, delivered anyway.

Python 3.11's `asyncio.wait_for`, which aiomqtt awaits for every connect, subscribe and
publish (and the LLRP driver for every frame), returns its result and drops the cancel when
both arrive together (CPython gh-86296, fixed in 3.12): the task runs on as if it had never
been cancelled, and a gateway asked to stop never stops. (`Task.cancelling()` cannot tell:
3.11's TaskGroup leaves it raised after any failed child.) So the agent says so itself: it
marks a StopRequest before cancelling its work, and each loop checks it.
"""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class StopRequest:
    """Set once the agent is asked to stop; loops call check() where a cancel may have been lost."""

    def __init__(self) -> None:
        self.requested = False

    def check(self) -> None:
        if self.requested:
            raise asyncio.CancelledError


async def run_until_cancelled(work: Coroutine[Any, Any, None], stop: StopRequest) -> None:
    """Run `work`; when this task is cancelled, set `stop`, cancel `work` and wait for it to end."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        stop.requested = True
        task.cancel()
        await asyncio.wait({task})  # a loop that lost the cancel ends at its next check
        raise
