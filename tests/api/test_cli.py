"""The `mentorhub` command: migrations, demo logins, lazy benchmark commands."""
import sqlite3

import pytest
from click.testing import CliRunner

from api.cli import DEMO_LOGINS, cli
from api.settings import get_settings


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """The CLI reads settings from the environment: point it at a scratch var/ directory."""
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MENTORHUB_PROFILE", "testing")
    monkeypatch.setenv("SOCKETIO_ASYNC_MODE", "threading")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _tables(path) -> set[str]:
    """The database's tables, without SQLite's own (sqlite_sequence outlives the AUTOINCREMENT table that made it)."""
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite%'")}


def test_db_upgrade_and_downgrade(cli_env):
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert {"users", "bookings", "events"} <= _tables(cli_env / "mentorhub.db")
    result = runner.invoke(cli, ["db", "downgrade", "--revision", "base"])
    assert result.exit_code == 0, result.output
    assert _tables(cli_env / "mentorhub.db") <= {"alembic_version"}


def test_demo_logins_lists_the_three_roles():
    result = CliRunner().invoke(cli, ["demo-logins"])
    assert result.exit_code == 0
    for email in DEMO_LOGINS.values():
        assert email in result.output


def test_bench_commands_are_listed_without_importing_them():
    result = CliRunner().invoke(cli, ["bench", "--help"])
    assert result.exit_code == 0
    assert "recsys" in result.output and "startup" in result.output
