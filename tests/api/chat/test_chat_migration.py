"""The chat migration (0004_chat) goes down and up again on SQLite and PostgreSQL."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from api.extensions import db

pytestmark = pytest.mark.db

CHAT_TABLES = {"chat_message_reports", "chat_moderation_actions"}


def _chat_migration():
    path = Path(__file__).resolve().parents[3] / "api" / "migrations" / "versions" / "0004_chat.py"
    spec = importlib.util.spec_from_file_location("migration_0004_chat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chat_migration_downgrades_and_upgrades(app):
    migration = _chat_migration()
    with app.app_context():
        assert CHAT_TABLES <= set(sa.inspect(db.engine).get_table_names())
        downgrade(revision=migration.down_revision)
        tables = set(sa.inspect(db.engine).get_table_names())
        assert not CHAT_TABLES & tables
        assert {"messages", "chat_rooms"} <= tables  # the chat of 0001 stays
        upgrade()
        assert CHAT_TABLES <= set(sa.inspect(db.engine).get_table_names())
