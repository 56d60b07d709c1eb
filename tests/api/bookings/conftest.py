"""Booking fixtures: a fixed clock, an approved mentor with weekly availability, learners, logged-in clients."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timezone

import pytest

from api.extensions import db
from api.tables import AvailabilityRule, MentorProfile, MentorStatus, Role, User, UserRole, utcnow

# Monday 2 March 2026, 08:00 UTC (09:00 in Berlin)
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
USER_AGENT = "mentorhub-booking-tests/1.0"


@dataclass
class Person:
    id: int
    email: str
    timezone: str


def create_person(app, email: str, roles=("learner",), tz: str = "UTC", full_name: str | None = None,
                  verified: bool = True) -> Person:
    """A user without a password hash (fast: no argon2), logged in through the session in tests."""
    with app.app_context():
        user = User(email=email, full_name=full_name or email.split("@")[0].title(), timezone=tz)
        if verified:
            user.email_verified_at = user.phone_verified_at = utcnow()
        user.roles = [UserRole(role=Role(r)) for r in roles]
        db.session.add(user)
        db.session.commit()
        return Person(user.id, user.email, user.timezone)


def create_people(app, emails, roles=("learner",), tz: str = "UTC") -> list[Person]:
    """Many learners in one transaction (for the concurrency tests)."""
    with app.app_context():
        users = []
        for email in emails:
            user = User(email=email, full_name=email.split("@")[0].title(), timezone=tz,
                        email_verified_at=utcnow(), phone_verified_at=utcnow())
            user.roles = [UserRole(role=Role(r)) for r in roles]
            users.append(user)
        db.session.add_all(users)
        db.session.commit()
        return [Person(u.id, u.email, u.timezone) for u in users]


def create_mentor(app, email: str = "mentor@example.com", tz: str = "Europe/Berlin",
                  weekly=((0, "09:00", "12:00"), (1, "09:00", "12:00"), (2, "09:00", "12:00"), (3, "09:00", "12:00"),
                          (4, "09:00", "12:00")),
                  status: MentorStatus = MentorStatus.APPROVED, session_minutes: int = 60,
                  full_name: str = "Mara Mentor") -> Person:
    person = create_person(app, email, roles=("mentor",), tz=tz, full_name=full_name)
    with app.app_context():
        profile = MentorProfile(user_id=person.id, price_minor=5000, currency="EUR", session_minutes=session_minutes,
                                timezone=tz, status=status)
        profile.availability = [AvailabilityRule(weekday=d, start_time=time.fromisoformat(s),
                                                 end_time=time.fromisoformat(e), timezone=tz) for d, s, e in weekly]
        db.session.add(profile)
        db.session.commit()
    return person


def session_cookie(app, user_id: int, user_agent: str = USER_AGENT, remote_addr: str = "127.0.0.1") -> str:
    """A signed Flask session cookie logging `user_id` in (Flask-Login's strong protection included)."""
    from flask_login.utils import _create_identifier

    with app.app_context(), app.test_request_context(headers={"User-Agent": user_agent},
                                                     environ_base={"REMOTE_ADDR": remote_addr}):
        identifier = _create_identifier()
        user = db.session.get(User, user_id)
        data = {"_user_id": user.get_id(), "_fresh": True, "_id": identifier}
    return app.session_interface.get_signing_serializer(app).dumps(data)


class ApiClient:
    """A Flask test client logged in as one user, sending the CSRF token with every write."""

    def __init__(self, app, person: Person | None):
        self.client = app.test_client()
        self.client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
        if person is not None:
            self.client.set_cookie("session", session_cookie(app, person.id), domain="localhost")
        self.token = self.client.get("/api/v1/csrf-token").json["csrf_token"]

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, json=None, **kwargs):
        return self.client.post(url, json=json if json is not None else {}, headers={"X-CSRFToken": self.token}, **kwargs)

    def put(self, url, json=None):
        return self.client.put(url, json=json or {}, headers={"X-CSRFToken": self.token})

    def form(self, url, data):
        return self.client.post(url, data={**data, "csrf_token": self.token})


@pytest.fixture(autouse=True)
def _bookings_without_payments(request):
    """These tests drive the booking state machine alone; with payments on, a request must be paid before the
    mentor is told of it or can accept it (that flow is tested in tests/api/payments)."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").config["PAYMENTS_REQUIRED"] = False


@pytest.fixture
def clock(app, fixed_clock):
    """Fix the product's one clock at NOW (for everything the app does, rows' timestamps too); `clock.set(dt)`
    moves it."""
    fixed_clock.set(NOW)
    return fixed_clock


@pytest.fixture
def outbox(settings):
    """Read the outbox file: list of messages."""
    import json

    def _read():
        if not settings.outbox_path.exists():
            return []
        return [json.loads(line) for line in settings.outbox_path.read_text().splitlines() if line.strip()]

    return _read


@pytest.fixture
def mentor(app):
    return create_mentor(app)


@pytest.fixture
def learner(app):
    return create_person(app, "leo@example.com", tz="America/New_York", full_name="Leo Learner")


@pytest.fixture
def as_user(app):
    def _as(person):
        return ApiClient(app, person)

    return _as
