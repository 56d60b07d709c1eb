import pytest

from tests.api.search.discovery_helpers import build_world


@pytest.fixture
def world(app):
    with app.app_context():
        return build_world()
