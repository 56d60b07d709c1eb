"""The accounts migration goes down and up again on both databases; the API description includes the new endpoints."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from api.extensions import db


@pytest.mark.db
def test_accounts_migration_downgrades_and_upgrades(app):
    with app.app_context():
        assert {"phone_verifications", "uploads"} <= set(sa.inspect(db.engine).get_table_names())
        downgrade(revision="0001")
        tables = set(sa.inspect(db.engine).get_table_names())
        assert "phone_verifications" not in tables and "uploads" not in tables and "users" in tables
        upgrade()
        assert {"phone_verifications", "uploads"} <= set(sa.inspect(db.engine).get_table_names())


def test_openapi_describes_the_accounts_and_profiles_api(client):
    spec = client.get("/api/openapi.json").json
    for path in ("/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/auth/verify/phone", "/api/v1/profile/learner",
                 "/api/v1/profile/mentor", "/api/v1/profile/picture", "/api/v1/admin/mentors/pending"):
        assert path in spec["paths"], path
