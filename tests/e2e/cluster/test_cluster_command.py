"""`pledgewatch cluster --config DIR` as an operator runs it: it starts (three NATS nodes,
PostgreSQL of its own, the TSDB, two backend hosts, the demo gateways), both hosts' ingest
store readings from the shared JetStream consumer, four coils taken from a lot are alerted,
and Ctrl-C stops everything with no ERROR line and nothing left listening."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
import yaml
from waiting import wait_for

from backend.demo.ports import free_port, wait_until_listening

pytestmark = pytest.mark.e2e
WAIT_S = 60


def stored(api: str) -> float:
    try:
        text = httpx.get(f"{api}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("pw_readings_stored_total"))


def alerts(api: str, key: str) -> list[tuple[str, str | None]]:
    answer = httpx.get(f"{api}/api/v1/alerts", headers={"Authorization": f"Bearer {key}"}, timeout=5)
    return [(a["type"], a.get("lot")) for a in answer.json()] if answer.status_code == 200 else []


@pytest.fixture
def root():
    """Under /tmp itself: as root, the cluster's PostgreSQL runs as `postgres`, who cannot
    enter pytest's private tmp_path."""
    folder = Path(tempfile.mkdtemp(prefix="pw-cluster-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_cluster_runs_every_tier_alerts_a_theft_and_stops_cleanly(tmp_path: Path, root: Path):
    (root / "cluster.yaml").write_text(yaml.safe_dump({"http_port": free_port(),
                                                      "confirmation_s": 3, "reporting_period_s": 5,
                                                      "monitor": {"clear_s": 10}}))
    output = tmp_path / "cluster.out"
    with output.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "backend.cli", "cluster", "--config", str(root)],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: (root / "cluster.json").exists() or process.poll() is not None, WAIT_S)
        assert process.poll() is None, output.read_text()[-3000:]
        where = json.loads((root / "cluster.json").read_text())
        admin = json.loads((root / "api-keys.json").read_text())["admin"]
        apis = [host["api"] for host in where["hosts"]]
        assert where["database"]["own_instance"] and len(where["nats"]) == 3
        assert wait_for(lambda: all(stored(api) > 0 for api in apis), WAIT_S), [stored(api) for api in apis]
        control = where["sim_control_ports"]["gw-shanghai"]
        httpx.post(f"http://127.0.0.1:{control}/lots/lot-sh-1/remove_items", json={"count": 4}).raise_for_status()
        # The theft itself (a fresh lot's collateral_unverified at start says nothing of it).
        assert wait_for(lambda: ("unauthorized_removal", "lot-sh-1") in alerts(apis[1], admin), WAIT_S), \
            alerts(apis[1], admin)
        raised = sorted({kind for kind, lot in alerts(apis[1], admin) if lot == "lot-sh-1"})
        per_host = [stored(api) for api in apis]
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        code = process.wait(90)
    text = output.read_text()
    assert code == 0 and "cluster: stopped" in text, text[-3000:]
    for log in [output, *(root / "logs").glob("*.log")]:
        lines = log.read_text(errors="replace").splitlines()
        first_bad = next((n for n, line in enumerate(lines) if " ERROR " in line or "Traceback" in line), None)
        assert first_bad is None, "\n".join([log.name, *lines[max(0, first_bad - 30):first_bad + 40]])
    listening = [port for port in [*(int(n["mqtt"].rsplit(":", 1)[1]) for n in where["nats"]),
                                   int(where["database"]["url"].split(":")[-1].split("/")[0])]
                 if wait_until_listening(port, timeout_s=0.2)]
    assert listening == []
    print(f"\ncluster: readings stored per host {per_host}; on lot-sh-1: {raised}; stopped cleanly")
