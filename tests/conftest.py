"""Fixtures shared by every test level."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.demo.broker import find_mosquitto, start_broker
from backend.demo.nats_cluster import NatsCluster, find_nats_server


@pytest.fixture
def gateway_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def mosquitto(tmp_path):
    """A real Mosquitto on a free port with its own config and data dir, stopped after."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run `make test`, which installs it")
    broker = start_broker(tmp_path / "broker", prefer="mosquitto")
    yield broker
    broker.stop()


@pytest.fixture
def nats_cluster(tmp_path):
    """Three real nats-server nodes (JetStream, MQTT listeners) on free ports, each with its
    own config and store under tmp_path, routed into one cluster; healthy before the test."""
    if find_nats_server() is None:
        pytest.fail("nats-server is not installed: run `make test`, which installs it")
    cluster = NatsCluster(tmp_path / "nats").start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL for the run (a fresh database per test via `database_url`)."""
    from tests_pg import PostgresServer  # tests/ is on sys.path (rootdir conftest)
    if not PostgresServer.available():
        pytest.fail("PostgreSQL server binaries are missing: run `make test`, which installs them")
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each relational test runs on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return request.getfixturevalue("postgres_server").new_database()
