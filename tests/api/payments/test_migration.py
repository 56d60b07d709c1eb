"""0006_payments upgrades and downgrades on SQLite and PostgreSQL, and matches the tables' definitions."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from api.extensions import db

TABLES = {"payment_checkouts", "payment_operations", "ledger_entries"}
MIGRATION = Path(__file__).resolve().parents[3] / "api/migrations/versions/0006_payments.py"


def _parent() -> str:
    spec = importlib.util.spec_from_file_location("m0006", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.down_revision


@pytest.mark.db
def test_payments_migration_down_and_up(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context():
        assert TABLES <= set(sa.inspect(db.engine).get_table_names())
        with db.engine.connect() as connection:
            diff = [d for d in compare_metadata(MigrationContext.configure(connection), db.metadata)
                    if any(t in str(d) for t in TABLES)]
        assert diff == []
        downgrade(revision=_parent())
        assert not TABLES & set(sa.inspect(db.engine).get_table_names())
        upgrade()
        assert TABLES <= set(sa.inspect(db.engine).get_table_names())
