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


def test_db_upgrade_and_downgrade(cli_env, monkeypatch):
    import logging

    # a command runs in a fresh process; in this one, importing mlflow (other tests do) raised the
    # `alembic` logger to WARNING, which would keep its INFO lines out of the log this test reads
    alembic_logger = logging.getLogger("alembic")
    monkeypatch.setattr(alembic_logger, "level", alembic_logger.level)  # put back after the test
    alembic_logger.setLevel(logging.NOTSET)  # setLevel also clears the loggers' cached decisions
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("Database: migrated from empty to ")
    assert "alembic" not in result.output  # the migration log is in var/log/commands.log
    assert "Running upgrade" in (cli_env / "log" / "commands.log").read_text()
    assert CliRunner().invoke(cli, ["db", "upgrade"]).output.splitlines()[-1].startswith("Database: already at")
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


def test_seed_prints_a_short_summary_and_keeps_details_in_the_log(cli_env):
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(cli, ["seed", "--learners", "6", "--mentors", "3", "--days", "5"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("Seeding the demo world (6 learners, 3 mentors, 5 days)")
    assert lines[1].startswith("Demo world: seeded in ") and "6 learners, 3 mentors" in lines[1]
    assert len(lines) <= 3 and "{" not in result.output and "\x1b[" not in result.output and "\r" not in result.output
    assert " seed --learners=6 --mentors=3 --days=5" in (cli_env / "log" / "commands.log").read_text()  # each command's header
    again = runner.invoke(cli, ["seed", "--if-empty"])
    assert again.output.strip() == "Demo world: already there; not seeded again."


def test_demo_logins_come_with_the_place_of_the_details():
    result = CliRunner().invoke(cli, ["demo-logins"])
    assert "commands.log" in result.output.splitlines()[-1]


def test_the_pipeline_summary_is_two_readable_lines():
    from pipelines.cli import all_summary

    summary = {"data_version": "0d7a", "new_events": 661, "reports": None,
               "candidates": {"popularity": {"version": "1", "ndcg_at_10": 0.3082, "precision_at_10": 0.075},
                              "content-tfidf": {"version": "2", "ndcg_at_10": 0.5523, "precision_at_10": 0.1},
                              "svd": {"version": "4", "ndcg_at_10": 0.3119, "rmse": 1.1334}},
               "promote": {"challenger": "2", "champion": "2", "family": "content-tfidf", "first_champion": True}}
    lines = all_summary(summary, 87.4).splitlines()
    assert len(lines) == 2
    assert lines[0] == ("ML pipeline: done in 87s: 661 new events; 3 models trained; "
                        "champion content-tfidf (version 2, NDCG@10 0.552).")
    assert lines[1] == "  NDCG@10 by model: content-tfidf 0.552, svd 0.312, popularity 0.308"


def test_a_quiet_step_sends_output_logs_and_warnings_to_the_log_and_names_it_on_failure(tmp_path, capfd):
    import logging
    import warnings

    from api.console import StepFailed, details_to_log

    log = tmp_path / "commands.log"
    with details_to_log("Counting", log):
        print("a library's chatter")
        logging.getLogger("somelib").warning("a library's log line")
        warnings.warn("a library's deprecation", DeprecationWarning)
    with pytest.raises(StepFailed) as failure:
        with details_to_log("Breaking", log):
            raise RuntimeError("disk full")
    shown = capfd.readouterr()
    assert shown.out == "Counting...\nBreaking...\n"  # not a terminal: the titles once, nothing else
    assert shown.err == ""
    text = log.read_text()
    for detail in ("a library's chatter", "a library's log line", "a library's deprecation", "disk full"):
        assert detail in text
    assert "Breaking failed: disk full" in str(failure.value) and "commands.log" in str(failure.value)
