"""Wiring: the one place where settings become adapters, services and the app."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from backend.adapters.mqtt_ingest import MqttIngest
from backend.adapters.sqlite_ledger import SqliteIngestLedger
from backend.adapters.sqlite_readings import SqliteReadingStore
from backend.api.app import create_app
from backend.metrics import Metrics
from backend.ports import IngestLedger, ReadingStore
from backend.services.api_keys import ApiKeyring
from backend.services.ingest import IngestService
from backend.settings import BackendSettings
from edge.keys import load_public_key

log = logging.getLogger("pledgewatch.backend")


@dataclass
class BackendContext:
    settings: BackendSettings
    metrics: Metrics
    readings: ReadingStore
    ledger: IngestLedger
    keyring: ApiKeyring
    ingest: MqttIngest | None

    def close(self) -> None:
        if self.ingest:
            self.ingest.stop()
        self.readings.close()
        self.ledger.close()


def build_context(settings: BackendSettings) -> BackendContext:
    metrics = Metrics()
    readings = SqliteReadingStore(settings.data_dir / "readings.sqlite")
    ledger = SqliteIngestLedger(settings.data_dir / "state.sqlite")
    ingest = None
    if "ingest" in settings.roles:
        keys = {g.id: load_public_key(g.public_key_pem) if g.public_key_pem else None
                for g in settings.gateways}
        service = IngestService(readings, ledger, keys, settings.ingest, metrics)
        ingest = MqttIngest(settings.broker, settings.ingest, service)
    return BackendContext(settings, metrics, readings, ledger, ApiKeyring(settings.api_keys), ingest)


def run_backend(settings: BackendSettings) -> None:
    """Serve HTTP (and ingest, per roles) until SIGINT/SIGTERM."""
    context = build_context(settings)

    @asynccontextmanager
    async def lifespan(app):
        if context.ingest:
            context.ingest.start()
        try:
            yield
        finally:
            context.close()

    app = create_app(context)
    app.router.lifespan_context = lifespan
    config = uvicorn.Config(app, host=settings.http.host, port=settings.http.port,
                            log_level="warning", access_log=False)
    log.info("backend (%s) on http://%s:%d", ",".join(settings.roles), settings.http.host,
             settings.http.port)
    uvicorn.Server(config).run()
