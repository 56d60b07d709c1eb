"""A small hand-built world with known answers for search, preview and review tests."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from api.extensions import db
from api.tables import (
    AvailabilityRule,
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    Role,
    Topic,
    User,
    UserRole,
)

UTC = timezone.utc


@dataclass
class World:
    ada: int  # python, 50 USD, 12 y, en/es, 200 ratings avg 4.8, Mon-Fri 09-17 UTC, 1 recent session
    ben: int  # python, 30 EUR, 1 y, en, 1 rating of 5, Saturday 10-12 Europe/Berlin
    carla: int  # spanish, 40 GBP, 7 y, es/en, 10 ratings avg 4.0, Mon-Fri 18-21 Europe/Madrid, 3 recent sessions
    dan: int  # design, 90 USD, 4 y, fr, no ratings, no availability
    eve: int  # python, pending: never shown
    fay: int  # python, approved but account deactivated: never shown
    learner: int
    topics: dict[str, int]


def _user(email: str, name: str, roles=("mentor",), active: bool = True) -> User:
    user = User(email=email, full_name=name, is_active_account=active, email_verified_at=datetime.now(UTC),
                phone_verified_at=datetime.now(UTC))
    user.roles = [UserRole(role=Role(r)) for r in roles]
    db.session.add(user)
    db.session.flush()
    return user


def _mentor(user: User, topics: list[Topic], **fields) -> MentorProfile:
    profile = MentorProfile(user_id=user.id, **fields)
    profile.topics = topics
    db.session.add(profile)
    db.session.flush()
    return profile


def _rules(mentor_id: int, weekdays, start: time, end: time, tz: str) -> None:
    for weekday in weekdays:
        db.session.add(AvailabilityRule(mentor_id=mentor_id, weekday=weekday, start_time=start, end_time=end,
                                        timezone=tz))


def completed_booking(mentor_id: int, learner_id: int, ends_at: datetime, status=BookingStatus.COMPLETED) -> Booking:
    booking = Booking(mentor_id=mentor_id, learner_id=learner_id, starts_at=ends_at - timedelta(hours=1),
                      ends_at=ends_at, status=status, price_minor=5000, currency="USD")
    db.session.add(booking)
    db.session.flush()
    return booking


def build_world(now: datetime | None = None) -> World:
    """Call inside an app context; commits."""
    now = now or datetime.now(UTC)
    python = Topic(slug="python", name="Python", category="programming")
    spanish = Topic(slug="spanish", name="Spanish", category="languages")
    design = Topic(slug="ui-ux", name="UI/UX design", category="design")
    db.session.add_all([python, spanish, design])
    db.session.flush()

    ada = _user("ada@example.com", "Ada Lovelace")
    _mentor(ada, [python], headline="Senior Python engineer: Django and data pipelines", bio="I love teaching.",
            price_minor=5000, currency="USD", years_experience=12, languages=["en", "es"],
            past_roles=["Staff engineer at Northwind Traders"], rating_count=200, rating_sum=960,
            status=MentorStatus.APPROVED, timezone="UTC", session_minutes=60)
    _rules(ada.id, range(5), time(9), time(17), "UTC")

    ben = _user("ben@example.com", "Ben Newcomer")
    _mentor(ben, [python], headline="Python for complete beginners", bio="Patient and friendly.",
            price_minor=3000, currency="EUR", years_experience=1, languages=["en"], rating_count=1, rating_sum=5,
            status=MentorStatus.APPROVED, timezone="Europe/Berlin", session_minutes=60)
    _rules(ben.id, [5], time(10), time(12), "Europe/Berlin")

    carla = _user("carla@example.com", "Carla Profesora")
    _mentor(carla, [spanish], headline="Conversational Spanish and DELE exam preparation", bio="Native speaker.",
            price_minor=4000, currency="GBP", years_experience=7, languages=["es", "en"], rating_count=10,
            rating_sum=40, status=MentorStatus.APPROVED, timezone="Europe/Madrid", session_minutes=60)
    _rules(carla.id, range(5), time(18), time(21), "Europe/Madrid")

    dan = _user("dan@example.com", "Dan Designer")
    _mentor(dan, [design], headline="Product designer, Figma and user research", bio="Portfolio reviews.",
            price_minor=9000, currency="USD", years_experience=4, languages=["fr"], status=MentorStatus.APPROVED,
            timezone="UTC", session_minutes=60)

    eve = _user("eve@example.com", "Eve Pending")
    _mentor(eve, [python], headline="Python wizard", price_minor=1000, currency="USD", years_experience=3,
            languages=["en"], status=MentorStatus.PENDING)
    _rules(eve.id, range(7), time(0), time(23), "UTC")

    fay = _user("fay@example.com", "Fay Gone", active=False)
    _mentor(fay, [python], headline="Python mentor", price_minor=1000, currency="USD", years_experience=3,
            languages=["en"], status=MentorStatus.APPROVED)
    _rules(fay.id, range(7), time(0), time(23), "UTC")

    learner = _user("leo@example.com", "Leo Learner", roles=("learner",))
    for days_ago in (3, 10, 20):
        completed_booking(carla.id, learner.id, now - timedelta(days=days_ago))
    completed_booking(ada.id, learner.id, now - timedelta(days=5))
    completed_booking(ben.id, learner.id, now - timedelta(days=120))  # too old for popularity
    db.session.commit()
    return World(ada=ada.id, ben=ben.id, carla=carla.id, dan=dan.id, eve=eve.id, fay=fay.id, learner=learner.id,
                 topics={"python": python.id, "spanish": spanish.id, "ui-ux": design.id})


def next_weekday(weekday: int, tz: str, min_days: int = 2) -> date:
    """The first date at least `min_days` ahead (in `tz`) falling on `weekday` (Monday = 0)."""
    day = datetime.now(ZoneInfo(tz)).date() + timedelta(days=min_days)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def csrf_headers(client) -> dict:
    token = client.get("/api/v1/csrf-token").get_json()["csrf_token"]
    return {"X-CSRFToken": token}
