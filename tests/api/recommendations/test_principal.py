"""The recommendation tier's user (api.recommendations.principal): the contract of `SessionPrincipal`, read from
the principal directory on PostgreSQL or from one query."""
from __future__ import annotations

import pytest

from api.extensions import db
from api.recommendations import caches
from api.recommendations.principal import SessionPrincipal, load_principal
from api.tables import Role, User, UserRole

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def _stop_directory(app):
    yield
    with app.app_context():
        caches.close_directory(db.engine)


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
