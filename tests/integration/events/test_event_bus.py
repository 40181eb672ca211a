"""The event bus on its own: thread-safe fan-out, per-subscriber filter, slow subscribers ended."""
from __future__ import annotations

import asyncio
import threading

from backend.ports.feed import BusEvent
from backend.services.api_keys import Principal
from backend.services.events import END, EventBus, visible_to

NORTH = Principal("north", "lender", "bank-north")


def event(n: int, lender: str | None = "bank-north") -> BusEvent:
    return BusEvent("loan.updated", lender, {"id": f"loan-{n}"})


def test_events_published_from_another_thread_reach_only_the_subscribers_that_accept_them():
    async def scenario():
        bus = EventBus()
        north, staff = bus.subscribe(visible_to(NORTH)), bus.subscribe(visible_to(Principal("s", "supervisor")))
        publisher = threading.Thread(target=bus.publish, args=([event(1, "bank-south"), event(2), event(3, None)],))
        publisher.start()
        publisher.join()
        assert [(await staff.next(1)).data["id"] for _ in range(3)] == ["loan-1", "loan-2", "loan-3"]
        assert (await north.next(1)).data["id"] == "loan-2"
        assert await north.next(0.1) is None  # nothing else: a timeout
        bus.close()
        assert await north.next(1) is END

    asyncio.run(scenario())


def test_a_subscriber_that_falls_behind_is_ended_instead_of_growing_without_bound():
    async def scenario():
        bus = EventBus(max_queued=3)
        slow = bus.subscribe(lambda e: True)
        bus.publish([event(n) for n in range(10)])
        await asyncio.sleep(0.05)  # let the loop deliver
        assert await slow.next(1) is END

    asyncio.run(scenario())
