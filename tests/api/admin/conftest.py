import pytest

from tests.api.admin.admin_helpers import admin_api_client
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path, database_url):
    """Cheap argon2 parameters: many logins here."""
    return make_settings(tmp_path, database_url, argon2_time_cost=1, argon2_memory_cost_kib=1024,
                         argon2_parallelism=1)


@pytest.fixture
def admin_user(make_user):
    return make_user("root@example.com", roles=("admin",), full_name="Ada Admin")


@pytest.fixture
def admin(app, admin_user):
    """A JSON client of an admin who signed in with password and TOTP."""
    return admin_api_client(app, admin_user)
