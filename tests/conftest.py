"""Fixtures shared by every test level."""
from __future__ import annotations

import shutil

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
    server = PostgresServer(in_memory=True)  # thrown away: in memory when there is room
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory):
    """Made once per run: a migrated SQLite file and the name of a migrated PostgreSQL
    database (made when first asked for), copied for each test instead of migrating again."""
    from backend.adapters.db.engine import make_engine, migrate

    def migrated(url: str) -> None:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()  # a template must have no connection left when copied

    sqlite_file = tmp_path_factory.mktemp("template") / "registry.sqlite"
    migrated(f"sqlite:///{sqlite_file}")
    postgres: list[str] = []

    def postgres_template(server) -> str:
        if not postgres:
            postgres.append("t_migrated_template")
            migrated(server.new_database(postgres[0]))
        return postgres[0]

    return sqlite_file, postgres_template


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    """A database with no schema yet, on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, migrated_templates):
    """Each relational test runs on SQLite and on a real PostgreSQL, its schema already
    migrated (a copy of a database migrated once per run: migrating each took ~0.8 s on
    PostgreSQL); migrating it again at start-up finds nothing to do."""
    sqlite_template, postgres_template = migrated_templates
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, tmp_path / "registry.sqlite")
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    server = request.getfixturevalue("postgres_server")
    return server.new_database(template=postgres_template(server))
