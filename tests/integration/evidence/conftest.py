import pytest

from .world import make_world


@pytest.fixture
def world(tmp_path, database_url):
    made = make_world(tmp_path, database_url)
    yield made
    made.context.close()
