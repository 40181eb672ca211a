"""The chaos tests reuse the ingest tests' real victoria-metrics fixture."""
from tests.integration.ingest.conftest import victoria  # noqa: F401
