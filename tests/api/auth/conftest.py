import pytest

from tests.api.auth.accounts_helpers import JsonClient
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path, database_url):
    """The testing settings with cheap argon2 parameters (the production defaults are tested on their own)."""
    return make_settings(tmp_path, database_url, argon2_time_cost=1, argon2_memory_cost_kib=1024,
                         argon2_parallelism=1)


@pytest.fixture
def api(client):
    return JsonClient(client)
