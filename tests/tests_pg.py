"""A throw-away PostgreSQL server for tests (backend/demo/postgres.py: the cluster starts one too)."""
from backend.demo.postgres import PostgresServer

__all__ = ["PostgresServer"]
