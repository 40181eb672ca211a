"""An untouched database's pack verifies, offline, against a checkpoint the bank kept."""
from __future__ import annotations

import json

from .world import LOAN, pack_files, run_history


def test_a_pack_of_an_untouched_database_verifies(world):
    run_history(world, 5)
    kept = world.bank_keeps_checkpoint()
    run_history(world, 5)
    pack = world.export()
    verdict = world.verify(pack, kept)
    assert verdict.failures == []
    assert verdict.checked["envelopes"] == 10 and verdict.checked["readings"] == 20   # gw-qingdao's only
    assert verdict.checked["kept_checkpoint_size"] > 0 and verdict.checked["cosignatures"] >= 1
    files = pack_files(pack)
    kinds = [json.loads(json.loads(line)["leaf"])["kind"] for line in files["entries.jsonl"].splitlines()]
    assert {"gateway_key.registered", "price_mark.used", "alert.opened", "alert.acknowledged"} <= set(kinds)
    assert b"lot-sh-1-scale" not in files["batches.bin"]      # another lender's gateway stays out
    assert LOAN.encode() in files["report.html"]
