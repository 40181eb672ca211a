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


def test_proofs_are_lender_scoped_checkpoints_and_consistency_are_not(world):
    import base64

    from backend.domain.checkpoint import open_checkpoint, parse_vkey
    from backend.domain.tlog import leaf_hash, verify_consistency, verify_inclusion

    from .world import as_
    alert_id = run_history(world, 5)
    head = world.client.get("/api/v1/log/checkpoint", headers=as_("bank-south")).json()
    signed = open_checkpoint(head["note"], parse_vkey(head["log_vkey"]))
    rows = world.engine.connect().exec_driver_sql(
        "SELECT e.idx FROM log_entries e JOIN log_subjects s ON s.idx = e.idx "
        f"WHERE s.name = 'alert' AND s.value = '{alert_id}' ORDER BY e.idx").all()
    index = rows[0][0]
    mine = world.client.get(f"/api/v1/log/proof/{index}", headers=as_("bank-north"))
    assert mine.status_code == 200
    answer = mine.json()
    verify_inclusion(index, answer["size"], leaf_hash(answer["leaf"].encode()),
                     [base64.b64decode(p) for p in answer["proof"]], signed.checkpoint.root_hash)
    assert world.client.get(f"/api/v1/log/proof/{index}", headers=as_("bank-south")).status_code == 404
    assert world.client.get(f"/api/v1/log/proof/{index}", headers=as_("admin")).status_code == 200
    world.tick()
    run_history(world, 2)
    world.context.evidence.sign_checkpoint()  # the loop's work: every N minutes
    later = world.client.get("/api/v1/log/checkpoint", headers=as_("bank-south")).json()
    proof = world.client.get(f"/api/v1/log/consistency?from={head['size']}", headers=as_("bank-south")).json()
    assert proof["to"] == later["size"] > head["size"]
    verify_consistency(head["size"], later["size"], base64.b64decode(head["root_hash"]),
                       base64.b64decode(later["root_hash"]), [base64.b64decode(p) for p in proof["proof"]])


def test_a_cosignature_by_an_unknown_key_or_on_a_forged_checkpoint_is_refused(world):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from backend.domain.checkpoint import Cosigner, parse_checkpoint, parse_note

    from .world import WITNESS, as_
    run_history(world, 2)
    world.context.evidence.sign_checkpoint()
    note = parse_note(world.client.get("/api/v1/log/checkpoint", headers=as_("bank-north")).json()["note"])
    stranger = Cosigner(WITNESS, Ed25519PrivateKey.generate())   # same name, another key
    cosigned = note.with_signature(stranger.cosign(parse_checkpoint(note.text), int(world.clock())))
    assert world.client.post("/api/v1/log/cosignatures", json={"note": cosigned.encode()},
                             headers=as_("bank-north")).status_code == 400
    assert world.client.post("/api/v1/log/cosignatures", json={"note": note.encode()},
                             headers=as_("bank-south")).status_code == 400      # no witness key configured
    assert world.client.post("/api/v1/log/cosignatures", json={"note": note.encode()},
                             headers=as_("admin")).status_code == 404           # witnesses are lenders


def test_the_pack_over_http_is_the_lenders_own(world):
    from .world import as_
    run_history(world, 3)
    url = f"/api/v1/loans/{LOAN}/evidence?from={world.start_s}&to={int(world.clock())}"
    answer = world.client.get(url, headers=as_("bank-north"))
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    path = world.tmp / "http.zip"
    path.write_bytes(answer.content)
    assert world.verify(path).ok
    assert world.client.get(url, headers=as_("bank-south")).status_code == 404


def test_the_command_line_exports_and_verifies(world, tmp_path):
    """`evidence export` from a config file, `evidence verify` exit 0; a tampered pack exit 1."""
    import subprocess
    import sys
    import zipfile

    import yaml
    run_history(world, 3)
    settings = world.context.settings
    config = tmp_path / "backend.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(settings.data_dir), "database_url": settings.database_url}))
    pack = tmp_path / "cli.zip"
    command = [sys.executable, "-m", "backend.cli", "evidence"]
    exported = subprocess.run([*command, "export", "--config", str(config), "--loan", LOAN, "--from",
                               str(world.start_s), "--to", str(int(world.clock()) + 60), "--out", str(pack)],
                              capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    verified = subprocess.run([*command, "verify", str(pack)], capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0 and "pack verifies" in verified.stdout, verified.stdout
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(tampered, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, data.replace(b'"weight_kg":375.5', b'"weight_kg":975.5')
                            if name == "batches.bin" else data)
    refused = subprocess.run([*command, "verify", str(tampered)], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "FAIL envelope gw-qingdao/1/1 (entry" in refused.stdout, refused.stdout
