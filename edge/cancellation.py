"""A stop that Python 3.11 loses, delivered anyway.

Python 3.11's `asyncio.wait_for`, which aiomqtt awaits for every connect, subscribe and
publish (and the LLRP driver for every frame), returns its result and drops the cancel when
both arrive together (CPython gh-86296, fixed in 3.12). The task then runs on as if it had
never been cancelled, and a gateway asked to stop never stops. The request is still counted
(`Task.cancelling()`), so each loop of the agent asks here and stops.
"""
from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop and the request was swallowed."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
