"""`pledgewatch edge` with one more driver, `sim_witness`: the simulated lot, which also
appends every sample it hands to the agent to a witness file (WITNESS_FILE), one
write(2) per round before returning it — an outside record of everything sampled. With
WITNESS_HANG_AFTER_READS=n its n-th read blocks the event loop for good (a hung device call).

    python tests/e2e/edge/witness_agent.py edge --config agent.yaml
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from backend.cli import main  # noqa: E402
from edge.drivers import register  # noqa: E402
from edge.drivers.simulated import SimLotConfig, SimulatedLot  # noqa: E402


@register("sim_witness", SimLotConfig)
class WitnessedLot(SimulatedLot):
    def __init__(self, config: SimLotConfig, clock) -> None:
        super().__init__(config, clock)
        self._witness = os.open(os.environ["WITNESS_FILE"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._hang_after = int(os.environ.get("WITNESS_HANG_AFTER_READS", 0))
        self._reads = 0

    async def read(self):
        self._reads += 1
        if self._reads == self._hang_after:
            time.sleep(3600)
        samples = await super().read()
        os.write(self._witness, "".join(f"{s.sensor} {s.time_ms}\n" for s in samples).encode())
        return samples


if __name__ == "__main__":
    main()
