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


@pytest.mark.parametrize("command", [
    ["seed", "--learners", "5", "--mentors", "2", "--days", "3"],
    ["seed", "--if-empty"],
    ["payments", "reconcile"],
    ["run-jobs"],
    ["jobs"],
    ["refresh-ranking"],
    ["pipeline", "all"],
])
def test_commands_on_a_never_migrated_database_say_what_to_run(cli_env, command):
    (cli_env / "mentorhub.db").touch()  # an empty SQLite file
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1
    assert "never migrated" in result.output and "mentorhub db upgrade" in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output  # a message, no crash
    assert _tables(cli_env / "mentorhub.db") == set()  # nothing was created behind the user's back


def test_a_database_behind_the_code_says_to_upgrade(cli_env):
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade", "--revision", "0012_events_sequence"]).exit_code == 0
    result = runner.invoke(cli, ["seed", "--if-empty"])
    assert result.exit_code == 1
    assert "is at revision 0012_events_sequence" in result.output and "mentorhub db upgrade" in result.output


def test_the_server_refuses_a_never_migrated_database(cli_env):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run([sys.executable, "-m", "api.server", "--port", "0"], env=env, cwd=cli_env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "never migrated" in result.stderr and "mentorhub db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
