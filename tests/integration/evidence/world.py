"""A small installation with an evidence log on a real database: the demo book, signed
gateways whose messages go through the real ingest service, prices, alerts worked through
the API, and a bank (bank-north) that keeps and cosigns checkpoints."""
from __future__ import annotations

import sys
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from backend.adapters.zip_pack import ZipPackReader
from backend.api.app import create_app
from backend.bootstrap import BackendContext, build_context
from backend.domain.alerts import Alert, AlertOpened
from backend.domain.checkpoint import Cosigner
from backend.metrics import Metrics
from backend.ports.ingest import InboundMessage
from backend.ports.prices import PriceQuote
from backend.services.evidence_pack import Verdict, verify_pack
from backend.services.ingest import IngestService
from backend.settings import BackendSettings
from edge import protocol
from edge.protocol.keys import public_key_pem

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from book_helpers import BOOK, Clock, api_keys, as_  # noqa: E402

LOAN = "loan-river-1"            # bank-north's 2-lot loan, both lots on gw-qingdao
GATEWAYS = ("gw-qingdao", "gw-shanghai", "gw-ningbo")
WITNESS = "bank-north.example/witness"


@dataclass
class World:
    context: BackendContext
    client: TestClient
    clock: Clock
    ingest: IngestService
    signers: dict[str, protocol.Signer]
    witness: Cosigner
    tmp: Path
    seqs: dict[str, int] = field(default_factory=dict)
    start_s: int = 0

    @property
    def engine(self) -> Engine:
        return self.context.exporter.archive.engine

    def report(self, gateway: str, weight_kg: float) -> None:
        """One signed message of `gateway`, through ingest as the broker would hand it over."""
        seq = self.seqs[gateway] = self.seqs.get(gateway, 0) + 1
        now_ms = int(self.clock() * 1000)
        sensor = {"gw-qingdao": "lot-qd-1-scale", "gw-shanghai": "lot-sh-1-scale", "gw-ningbo": "lot-nb-1-scale"}
        readings = [protocol.Reading(sensor[gateway], "weight", now_ms, {"weight_kg": weight_kg})]
        if gateway == "gw-qingdao":
            readings.append(protocol.Reading("lot-qd-2-scale", "weight", now_ms, {"weight_kg": 375.5}))
        payload = protocol.encode(gateway, 1, seq, now_ms, readings, self.signers[gateway])
        acks = self.ingest.ingest([InboundMessage(protocol.topic(gateway, "data"), payload, self.clock())],
                                  self.clock())
        assert seq in acks[(gateway, 1)].stored

    def price(self, commodity: str, price: str) -> None:
        self.context.price_service.submit(PriceQuote(commodity, Decimal(price), "CNY", "t", self.clock()), "manual")

    def open_alert(self, alert_id: str, severity: str = "warning") -> None:
        alert = Alert(alert_id, "ltv_warning", severity, "open", int(self.clock()), None, None, LOAN, None,
                      "bank-north", None, {"ltv": 0.72})
        self.context.alerts.apply([AlertOpened(alert)], {alert_id: LOAN})

    def tick(self, seconds: float = 60) -> None:
        self.clock.now_s += seconds

    def bank_keeps_checkpoint(self) -> str:
        """The bank fetches, cosigns and keeps the latest checkpoint (as its witness would)."""
        self.context.evidence.sign_checkpoint()
        note = self.client.get("/api/v1/log/checkpoint", headers=as_("bank-north")).json()["note"]
        from backend.domain.checkpoint import parse_checkpoint, parse_note
        parsed = parse_note(note)
        cosigned = parsed.with_signature(self.witness.cosign(parse_checkpoint(parsed.text), int(self.clock())))
        answer = self.client.post("/api/v1/log/cosignatures", json={"note": cosigned.encode()},
                                  headers=as_("bank-north"))
        assert answer.status_code == 201, answer.text
        return note

    def export(self, name: str = "pack.zip", loan: str = LOAN) -> Path:
        path = self.tmp / name
        self.context.exporter.export(loan, self.start_s, int(self.clock()) + 60, str(path))
        return path

    def verify(self, path: Path, kept: str | None = None) -> Verdict:
        reader = ZipPackReader(path)
        try:
            return verify_pack(reader, kept)
        finally:
            reader.close()


def make_world(tmp_path: Path, database_url: str) -> World:
    clock = Clock()
    keys = {gateway: Ed25519PrivateKey.generate() for gateway in GATEWAYS}
    witness = Cosigner(WITNESS, Ed25519PrivateKey.generate())
    settings = BackendSettings(
        data_dir=tmp_path / "data", database_url=database_url, book=BOOK, roles=["api", "monitor"],
        api_keys=api_keys(), gateways=[{"id": g, "public_key_pem": public_key_pem(k.public_key()).decode()}
                                       for g, k in keys.items()],
        evidence={"witnesses": [{"lender": "bank-north", "vkey": witness.verifier.vkey()}]})
    context = build_context(settings, clock)
    gateway_keys = {g: k.public_key() for g, k in keys.items()}
    ingest = IngestService(context.readings, context.ledger, gateway_keys, settings.ingest, Metrics(),
                           archive=context.exporter.archive)
    world = World(context, TestClient(create_app(context)), clock, ingest,
                  {g: protocol.Signer(k) for g, k in keys.items()}, witness, tmp_path, start_s=int(clock()))
    return world


def run_history(world: World, minutes: int = 10) -> str:
    """Readings every minute from each gateway, a price mark, an alert opened, acknowledged
    and resolved (its id returned)."""
    alert_id = f"ltv_warning.loan-river-1.{int(world.clock())}"
    for minute in range(minutes):
        for gateway in GATEWAYS:
            world.report(gateway, 150.0 + minute / 10)
        if minute == 2:
            world.price("copper_cathode", "68100.5")
            world.price("steel_coil", "4010")
        if minute == 3:
            world.open_alert(alert_id)
        if minute == 4:
            answer = world.client.post(f"/api/v1/alerts/{alert_id}/ack",
                                       json={"note": "calling the borrower"}, headers=as_("bank-north"))
            assert answer.status_code == 200, answer.text
        world.tick()
    if minutes > 4:  # one open alert per episode: close it, so that the next run opens another
        answer = world.client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=as_("supervisor"))
        assert answer.status_code == 200, answer.text
    return alert_id


def pack_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as pack:
        return {name: pack.read(name) for name in pack.namelist()}
