"""The principal directory (api.recommendations.caches): every account's session facts in memory on PostgreSQL, kept
current by the triggers' notifications, answering exactly what the principal query answers; silent (so the
tier queries) while it cannot be sure."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from api.recommendations.caches import PrincipalDirectory, directory_for
from api.recommendations.principal import reader as _reader
from api.extensions import db
from api.tables import Role, User, UserRole
from tests.conftest import eventually

pytestmark = [pytest.mark.db, pytest.mark.parametrize("db_backend", ["postgresql"])]


def _account(user_id: int, roles=(Role.LEARNER,), **fields) -> None:
    db.session.add(User(id=user_id, email=f"u{user_id}@example.com", full_name=f"User {user_id}", **fields))
    db.session.flush()
    db.session.add_all(UserRole(user_id=user_id, role=role) for role in roles)
    db.session.commit()


def _same(directory: PrincipalDirectory, user_id: int) -> bool:
    """The directory answers what the database answers (in any order of roles)."""
    return sorted(directory.rows(user_id) or [], key=str) == sorted(_reader(db.engine).rows(user_id), key=str)


@pytest.fixture
def directory(app):
    with app.app_context():
        for user_id in (1, 2, 3):
            _account(user_id, roles=(Role.LEARNER, Role.MENTOR) if user_id == 2 else (Role.LEARNER,),
                     currency="EUR" if user_id == 3 else "USD", timezone="Europe/Berlin")
        directory = PrincipalDirectory(db.engine)
        eventually(lambda: directory.ready)
        yield directory
        directory.close()


def test_it_holds_every_account_as_the_query_reads_it(app, directory):
    with app.app_context():
        for user_id in (1, 2, 3):
            assert _same(directory, user_id)
        assert directory.rows(2)[0][:4] == (1, True, "USD", "Europe/Berlin")
        assert {row[4] for row in directory.rows(2)} == {"learner", "mentor"}
        assert directory.rows(999) is None  # not held: the tier asks the database


def test_changes_arrive_when_they_commit(app, directory):
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == 1).values(session_version=2))  # log out everywhere
        db.session.execute(sa.update(User).where(User.id == 3).values(is_active_account=False, currency="GBP"))
        db.session.execute(sa.delete(UserRole).where(UserRole.user_id == 2, UserRole.role == Role.MENTOR))
        db.session.commit()
        eventually(lambda: directory.rows(1)[0][0] == 2)
        eventually(lambda: directory.rows(3)[0][1:3] == (False, "GBP"))
        eventually(lambda: [row[4] for row in directory.rows(2)] == ["learner"])
        _account(5000, roles=(Role.ADMIN,))  # beyond the records loaded: they grow
        eventually(lambda: directory.rows(5000) is not None)
        assert _same(directory, 5000)
        db.session.execute(sa.delete(User).where(User.id == 5000))
        db.session.commit()
        eventually(lambda: directory.rows(5000) is None)
        db.session.execute(sa.text("TRUNCATE user_roles"))  # everything is read again
        db.session.commit()
        eventually(lambda: directory.rows(1) == [(2, True, "USD", "Europe/Berlin", None)])


def test_a_lost_connection_silences_it_until_it_has_read_everything_again(app, directory, monkeypatch):
    import api.recommendations.caches as principals

    monkeypatch.setattr(principals, "RETRY_SECONDS", 0.3)
    with app.app_context():
        assert directory.rows(1) is not None
        listener = db.session.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :name AND datname = current_database()"),
            {"name": principals.APPLICATION_NAME}).scalar_one()
        db.session.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": listener})
        db.session.commit()
        eventually(lambda: not directory.ready, timeout=10)
        assert directory.rows(1) is None  # while it is down, the tier asks the database
        # a change it could not hear about is in the full load after it reconnects
        db.session.execute(sa.update(User).where(User.id == 1).values(session_version=7))
        db.session.commit()
        eventually(lambda: directory.ready, timeout=10)
        assert directory.rows(1)[0][0] == 7


def test_each_engine_gets_one_directory_on_postgresql_only(app, tmp_path):
    from api.recommendations import caches

    with app.app_context():
        assert directory_for(db.engine) is directory_for(db.engine)
        caches.close_directory(db.engine)
    assert directory_for(sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")) is None  # SQLite: the tier queries
