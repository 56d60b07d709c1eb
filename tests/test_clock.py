"""The product's one clock: unfixed it is the system clock; fixed, everything that asks "now" gets the fixed one."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from models import clock

UTC = timezone.utc


def test_unfixed_clock_is_the_system_clock_in_utc():
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)
    assert not clock.is_fixed()


@pytest.mark.parametrize("when, expected", [
    ("2026-03-02T08:00:00Z", datetime(2026, 3, 2, 8, tzinfo=UTC)),
    ("2026-03-02T09:00:00+01:00", datetime(2026, 3, 2, 8, tzinfo=UTC)),
    ("2026-03-02 08:00", datetime(2026, 3, 2, 8, tzinfo=UTC)),  # no zone: UTC
    ("2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)),  # a bare date: its midnight
    (date(2026, 3, 2), datetime(2026, 3, 2, tzinfo=UTC)),
    (datetime(2026, 3, 2, 8), datetime(2026, 3, 2, 8, tzinfo=UTC)),
])
def test_fixed_clock_accepts_instants_text_and_dates(when, expected):
    with clock.fixed(when):
        assert clock.now() == expected and clock.now().tzinfo == UTC
        assert clock.today() == expected.date() and clock.is_fixed()
    assert not clock.is_fixed()


def test_fixed_clock_follows_a_callable_and_restores_the_previous_one():
    moments = iter([datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)])
    previous = clock.set_now("2025-12-31")
    try:
        with clock.fixed(lambda: next(moments)):
            assert [clock.now().day, clock.now().day] == [1, 2]
        assert clock.now() == datetime(2025, 12, 31, tzinfo=UTC)
    finally:
        clock.set_now(previous)
    with pytest.raises(ValueError):
        clock.set_now("not a time")


def test_the_app_asks_the_one_clock(fixed_clock, app):
    """Rows' timestamps, the bookings' "now" and search all follow it: a test fixes it once."""
    from api.bookings.service import now_utc
    from api.extensions import db
    from api.tables import User, utcnow

    fixed_clock.set(datetime(2031, 5, 6, 7, 8, tzinfo=UTC))
    assert utcnow() == now_utc() == datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
    with app.app_context():
        user = User(email="clock@example.com", full_name="Clock Reader")
        db.session.add(user)
        db.session.commit()
        assert db.session.get(User, user.id).created_at == datetime(2031, 5, 6, 7, 8, tzinfo=UTC)


def test_clock_now_setting_fixes_the_clock_unless_already_fixed(tmp_path):
    from api import create_app
    from tests.conftest import make_settings

    create_app(settings=make_settings(tmp_path, clock_now="2030-01-02T03:04:05Z"))
    assert clock.now() == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)  # the autouse fixture frees it afterwards
    with clock.fixed("2020-01-01"):
        create_app(settings=make_settings(tmp_path, clock_now="2030-01-02T03:04:05Z"))
        assert clock.today() == date(2020, 1, 1)


def test_cli_now_option_fixes_the_clock_for_the_command():
    from click.testing import CliRunner

    from api.cli import cli

    @cli.command("print-now")
    def print_now():
        import click

        click.echo(clock.now().isoformat())

    try:
        result = CliRunner().invoke(cli, ["--now", "2026-03-02T08:00Z", "print-now"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "2026-03-02T08:00:00+00:00"
        refused = CliRunner().invoke(cli, ["--now", "yesterday", "print-now"])
        assert refused.exit_code != 0 and "--now" in refused.output
    finally:
        cli.commands.pop("print-now", None)
