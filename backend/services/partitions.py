"""This process's share of the monitor partitions (docs/scaling.md).

Every tick: say this monitor is alive, renew its leases, give back what is beyond its fair
share (the partitions over the monitors alive, rounded up) and take free or expired ones up
to it; then tick a MonitorService per partition held, each renewing its lease and saving its
cursors as it finishes. A monitor that dies stops renewing: its leases run out after
`lease_s` and the others take them at their next tick. The new holder rebuilds the
partition's state as a restarted monitor does (open alerts from the database, the warm-up
window of readings); every alert write is fenced by the lease token, so a monitor that
stalled past its lease stores nothing.
"""
from __future__ import annotations

import logging
import math
from typing import Callable, Mapping

from backend.domain.partitions import Partition
from backend.metrics import Metrics
from backend.ports.monitor import LeaseFence, LeaseLost, PartitionLeases
from backend.services.monitor import MonitorService

log = logging.getLogger("pledgewatch.monitor")
MakeService = Callable[[Partition, LeaseFence, Mapping[str, int]], MonitorService]


class PartitionedMonitor:
    def __init__(self, *, leases: PartitionLeases, make_service: MakeService, count: int, lease_s: float,
                 owner: str, clock: Callable[[], float], metrics: Metrics) -> None:
        self.leases, self.make_service, self.count, self.lease_s = leases, make_service, count, lease_s
        self.owner, self.clock, self.metrics = owner, clock, metrics
        self.services: dict[int, MonitorService] = {}

    def held(self) -> list[int]:
        return sorted(self.services)

    def tick(self) -> tuple[object, ...]:
        self.rebalance()
        events: list[object] = []
        for index in self.held():
            service = self.services[index]
            try:
                events += service.tick()
            except LeaseLost:
                log.warning("monitor partition %d: lease lost, given up", index)
                del self.services[index]
                continue
            fence = self.services[index].fence
            assert fence is not None  # a partition's monitor always has its lease
            if not self.leases.checkpoint(fence, service.cursors(), self.clock() + self.lease_s):
                log.warning("monitor partition %d: lease lost, given up", index)
                del self.services[index]
        self.metrics.monitor_partitions.set(len(self.services))
        return tuple(events)

    def rebalance(self) -> None:
        now_s = self.clock()
        alive = self.leases.heartbeat(self.owner, now_s, self.lease_s)
        held = {fence.partition: fence for fence in self.leases.renew(self.owner, now_s, self.lease_s)}
        for index in [i for i, s in self.services.items() if held.get(i) != s.fence]:
            log.warning("monitor partition %d: taken over by another monitor", index)
            del self.services[index]
        for index in [i for i in held if i not in self.services]:
            self.leases.release(held.pop(index))  # held without a monitor here: not ours to keep
        share = math.ceil(self.count / max(alive, 1))
        for index in sorted(held, reverse=True)[:max(0, len(held) - share)]:
            log.info("monitor partition %d: given back (%d monitors alive)", index, alive)
            del self.services[index]
            self.leases.release(held.pop(index))
        if len(held) < share:
            for index in self.leases.free(self.count, now_s):
                lease = self.leases.take(index, self.owner, now_s, self.lease_s)
                if lease is not None:
                    log.info("monitor partition %d of %d: taken (token %d)", index, self.count, lease.fence.token)
                    held[index] = lease.fence
                    self.services[index] = self.make_service(Partition(index, self.count), lease.fence,
                                                             lease.cursors)
                if len(held) >= share:
                    break
        self.metrics.monitor_partitions.set(len(self.services))

    def close(self) -> None:
        """A clean stop: the partitions go to the others at their next tick, not after the lease."""
        for service in self.services.values():
            if service.fence is not None:
                self.leases.release(service.fence)
        self.services.clear()
        self.leases.leave(self.owner)
