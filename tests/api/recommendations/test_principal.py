"""The recommendation tier's user (api.recommendations.principal): the contract of `SessionPrincipal` and the
short-lived cache of the session row it is read from (api.recommendations.caches)."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from api.extensions import db
from api.recommendations import caches
from api.recommendations.principal import SessionPrincipal, load_principal, reader
from api.tables import Role, User, UserRole

pytestmark = pytest.mark.db


def _account(user_id: int, roles=(Role.LEARNER,), **fields) -> None:
    db.session.add(User(id=user_id, email=f"u{user_id}@example.com", full_name=f"User {user_id}", **fields))
    db.session.flush()
    db.session.add_all(UserRole(user_id=user_id, role=role) for role in roles)
    db.session.commit()


def test_the_principal_carries_what_the_contract_says(app):
    with app.test_request_context():
        _account(1, roles=(Role.LEARNER, Role.MENTOR), currency="EUR", timezone="Europe/Berlin")
        principal = load_principal("1:1")
        assert isinstance(principal, SessionPrincipal)
        assert (principal.id, principal.session_version, principal.currency, principal.timezone) == (
            1, 1, "EUR", "Europe/Berlin")
        assert principal.roles == {"learner", "mentor"} and principal.has_role(Role.MENTOR)
        assert not principal.has_role(Role.ADMIN)
        assert principal.is_authenticated and principal.is_active and principal.get_id() == "1:1"
        with pytest.raises(AttributeError):  # frozen: nothing to write back
            principal.currency = "USD"


def test_it_refuses_what_load_user_refuses(app):
    with app.test_request_context():
        _account(1)
        _account(2, is_active_account=False)
        assert load_principal("1:2") is None  # a revoked session version
        assert load_principal("2:1") is None  # a deactivated account
        assert load_principal("3:1") is None  # no such account
        assert load_principal("1") is None and load_principal("x:1") is None  # not a session id


def test_a_session_row_is_kept_for_a_few_seconds_then_read_again(app, monkeypatch):
    monkeypatch.setattr(caches, "SESSION_SECONDS", 0.3)
    reads: list[int] = []

    def load(user_id: int) -> list[tuple]:
        reads.append(user_id)
        return reader(db.engine).rows(user_id)

    with app.test_request_context():
        _account(1)
        assert caches.session_rows(1, load)[0][0] == 1
        db.session.execute(sa.update(User).where(User.id == 1).values(session_version=2))  # log out everywhere
        db.session.commit()
        assert caches.session_rows(1, load)[0][0] == 1 and reads == [1]  # within SESSION_SECONDS: the kept row
        time.sleep(0.35)
        assert caches.session_rows(1, load)[0][0] == 2 and reads == [1, 1]


def test_the_session_cache_is_bounded(app, monkeypatch):
    monkeypatch.setattr(caches, "SESSION_ENTRIES", 8)
    with app.test_request_context():
        for user_id in range(1, 30):
            caches.session_rows(user_id, lambda _user_id: [])
        assert len(caches.state().sessions) <= 8
        assert 29 in caches.state().sessions  # the newest stay
