"""Ports: what the services need from the outside world, typed as Protocols, a module per
area, with the records that cross them. Adapters (backend/adapters) implement them; tests
use in-memory fakes (tests/unit/services/fakes_*.py)."""
