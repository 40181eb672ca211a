"""A PostgreSQL server of our own: its own data dir and port, for the tests, the benchmarks
and `pledgewatch cluster` when no database_url is configured."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from backend.demo.ports import free_port, wait_until_listening

SHARED_MEMORY = "/dev/shm"


def _bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _scratch_dir(in_memory: bool) -> str | None:
    """/dev/shm when asked for and it has room (a container's may hold only 64 MiB)."""
    if in_memory and os.path.isdir(SHARED_MEMORY) and shutil.disk_usage(SHARED_MEMORY).free > 4 * 2**30:
        return SHARED_MEMORY
    return None


class PostgresServer:
    """initdb + pg_ctl as the `postgres` user when we are root (PostgreSQL refuses root)."""

    def __init__(self, fsync: bool = False, root: Path | None = None, port: int | None = None,
                 in_memory: bool = False) -> None:
        """`fsync`: off for tests (speed); on for benchmarks that time durable commits and for
        a cluster's own instance. `root`: kept (and reused at the next start) when given; a
        temporary folder removed at stop otherwise, on a tmpfs if `in_memory` and there is one
        with room: for tests, whose databases are thrown away (a copy of the migrated template
        took 176 ms on disk, 16 ms there; removing 300 of them at the end, 21 s on disk)."""
        self.keep = root is not None
        self.root = root.resolve() if root else Path(tempfile.mkdtemp(prefix="pw-pg-", dir=_scratch_dir(in_memory)))
        self.fsync = fsync
        self.port = port or free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @staticmethod
    def available() -> bool:
        return _bin("initdb") is not None and _bin("pg_ctl") is not None

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.root, "postgres")
        data = self.root / "data"
        if not (data / "PG_VERSION").exists():
            self._run(_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run(_bin("pg_ctl"), "-D", str(data), "-l", str(self.root / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync={'on' if self.fsync else 'off'}", "start")
        if not wait_until_listening(self.port, 30):
            raise RuntimeError(f"postgres did not start; see {self.root / 'log'}")

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self, name: str | None = None, template: str | None = None) -> str:
        """A database (a fresh name unless given; an existing one is reused) and its URL; a new
        one is a copy of `template` when given (which nobody may be connected to)."""
        import psycopg
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as db:
            if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                copy = ""
                if template:  # copying the files beats PostgreSQL 15's default (through the WAL) 2-10x
                    copy = f' TEMPLATE "{template}"' + (" STRATEGY FILE_COPY" if db.info.server_version >= 150000 else "")
                db.execute(f'CREATE DATABASE "{name}"{copy}')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"
