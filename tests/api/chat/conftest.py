"""Chat fixtures: people, logged-in HTTP clients and Socket.IO test clients on the /chat namespace."""
from __future__ import annotations

import pytest

from api.extensions import socketio

NAMESPACE = "/chat"


@pytest.fixture(autouse=True)
def _fresh_flood_control():
    from api.chat.flood import flood_control, typing_control

    flood_control.reset()
    typing_control.reset()
    yield
    flood_control.reset()
    typing_control.reset()


@pytest.fixture
def login_client(app):
    """A new HTTP test client logged in as `user` (without the login form)."""
    from flask_login.utils import _create_identifier

    def _login(user):
        client = app.test_client()
        with app.test_request_context(environ_base=dict(client.environ_base)):
            identifier = _create_identifier()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
            session["_id"] = identifier
        return client

    return _login


@pytest.fixture
def sio(app):
    """A Socket.IO test client on /chat carrying the HTTP client's session cookie."""
    made = []

    def _connect(http_client=None):
        client = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=http_client)
        made.append(client)
        return client

    yield _connect
    for client in made:
        if client.is_connected(NAMESPACE):
            client.disconnect(namespace=NAMESPACE)


@pytest.fixture
def quick_user(app):
    """Create a user without a password (no slow hashing): quick_user("ana@example.com", "Ana", "learner")."""
    from api.extensions import db
    from api.tables import Role, User, UserRole, utcnow

    def _make(email: str, full_name: str, *roles: str, verified: bool = True) -> User:
        with app.app_context():
            user = User(email=email, full_name=full_name)
            if verified:
                user.email_verified_at = user.phone_verified_at = utcnow()
            user.roles = [UserRole(role=Role(r)) for r in roles or ("learner",)]
            db.session.add(user)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return _make


@pytest.fixture
def people(app, quick_user):
    """A learner, an approved mentor who accepts no questions yet, another learner, and an admin."""
    from api.extensions import db
    from api.tables import MentorProfile, MentorStatus

    learner = quick_user("leo@example.com", "Leo Learner", "learner")
    mentor = quick_user("mara@example.com", "Mara Mentor", "mentor")
    stranger = quick_user("sam@example.com", "Sam Stranger", "learner")
    admin = quick_user("ada@example.com", "Ada Admin", "admin")
    with app.app_context():
        db.session.add(MentorProfile(user_id=mentor.id, price_minor=5000, currency="USD",
                                     status=MentorStatus.APPROVED, accepts_questions=False))
        db.session.commit()
    return {"learner": learner, "mentor": mentor, "stranger": stranger, "admin": admin}
