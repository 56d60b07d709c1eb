"""No double booking, ever: real concurrency against a live server, pending requests, forged requests."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from api.extensions import db
from api.tables import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus, MentorStatus
from tests.api.bookings.conftest import NOW, USER_AGENT, create_mentor, create_people, create_person, session_cookie

SLOT = "2026-03-03T08:00:00Z"  # Tuesday 09:00 Berlin


def http_session(app, base_url: str, person) -> requests.Session:
    """A requests session logged in as `person` with its CSRF token, like a browser tab."""
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    http.cookies.set("session", session_cookie(app, person.id), domain="127.0.0.1", path="/")
    token = http.get(f"{base_url}/api/v1/csrf-token", timeout=10).json()["csrf_token"]
    http.headers["X-CSRFToken"] = token
    return http


def active_bookings(app, mentor_id):
    with app.app_context():
        return db.session.scalars(sa.select(Booking).where(Booking.mentor_id == mentor_id,
                                                           Booking.status.in_(ACTIVE_BOOKING_STATUSES))).all()


@pytest.mark.db
@pytest.mark.slow
def test_fifty_concurrent_requests_for_one_slot_one_wins(app, clock, live_server, mentor):
    learners = create_people(app, [f"learner{i}@example.com" for i in range(50)])
    sessions = [http_session(app, live_server, person) for person in learners]
    start = threading.Barrier(len(sessions))
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def book(http):
        start.wait()
        response = http.post(f"{live_server}/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT,
                                                                      "note": "me first"}, timeout=60)
        with lock:
            results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=book, args=(http,)) for http in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    codes = sorted(code for code, _ in results)
    assert len(results) == 50
    assert codes.count(201) == 1, codes
    assert codes.count(409) == 49, codes
    for code, body in results:
        if code == 409:
            assert "no longer free" in body["error"]["message"]
            assert "starts_at" in body["error"]["fields"]
    assert len(active_bookings(app, mentor.id)) == 1


@pytest.mark.db
def test_a_pending_request_holds_its_slot_and_accept_rechecks(app, clock, mentor, as_user, db_backend):
    """Requests hold the slot (the exclusion constraint covers 'requested'): a second request for it is
    refused at once, so the mentor never has two pending requests for one slot to choose from. Where two
    overlapping requests exist anyway (SQLite has no constraint; rows written outside the API), accepting
    the second fails once the first is accepted."""
    first_learner, second_learner = create_person(app, "ann@example.com"), create_person(app, "bob@example.com")
    first = as_user(first_learner).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT})
    assert first.status_code == 201
    second = as_user(second_learner).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT})
    assert second.status_code == 409
    assert second.json["error"]["message"].startswith("That slot is no longer free")

    with app.app_context():
        sneaked = Booking(learner_id=second_learner.id, mentor_id=mentor.id, starts_at=NOW + timedelta(days=1),
                          ends_at=NOW + timedelta(days=1, hours=1), status=BookingStatus.REQUESTED,
                          price_minor=5000, currency="EUR")
        db.session.add(sneaked)
        if db_backend == "postgresql":
            with pytest.raises(sa.exc.IntegrityError, match="ex_bookings_mentor_no_overlap"):
                db.session.commit()  # the database itself refuses the second pending request
            db.session.rollback()
            return
        db.session.commit()
        sneaked_id = sneaked.id
    mentor_client = as_user(mentor)
    assert mentor_client.post(f"/api/v1/bookings/{first.json['id']}/accept").status_code == 200
    refused = mentor_client.post(f"/api/v1/bookings/{sneaked_id}/accept")
    assert refused.status_code == 409 and "starts_at" in refused.json["error"]["fields"]
    assert len([b for b in active_bookings(app, mentor.id) if b.status == BookingStatus.ACCEPTED]) == 1


def test_sqlite_begin_immediate_really_serialises(app):
    """A second writer waits at BEGIN IMMEDIATE until the first commits, so it reads what the first wrote."""
    from api.bookings.transaction import serialised_write

    first_inside, first_committed = threading.Event(), threading.Event()
    seen_by_second: list[bool] = []

    def first():
        with app.app_context():
            with serialised_write():
                first_inside.set()
                time.sleep(0.5)  # the second writer tries to start now
                db.session.execute(sa.text("CREATE TABLE IF NOT EXISTS serialise_probe (x INTEGER)"))
                db.session.execute(sa.text("INSERT INTO serialise_probe VALUES (1)"))
            first_committed.set()
            db.session.remove()

    def second():
        first_inside.wait(5)
        with app.app_context():
            with serialised_write():
                seen_by_second.append(first_committed.is_set())
                count = db.session.execute(sa.text("SELECT count(*) FROM serialise_probe")).scalar()
                seen_by_second.append(count == 1)
            db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen_by_second == [True, True]


# ------------------------------------------------------------ forged requests


@pytest.mark.db
def test_forged_slots_are_refused_naming_the_field(app, clock, mentor, learner, as_user):
    client = as_user(learner)
    cases = {
        "2026-03-03T13:00:00Z": (422, "availability"),  # 14:00 Berlin: outside the weekly hours
        "2026-03-03T08:30:00Z": (422, "availability"),  # not an offered start
        "2026-03-07T09:00:00Z": (422, "availability"),  # Saturday
        "2026-03-01T08:00:00Z": (422, "past"),
        "2026-03-02T10:00:00Z": (422, "notice"),  # today 11:00 Berlin, 2 hours ahead (needs 4)
        "2026-06-01T07:00:00Z": (422, "days ahead"),  # beyond the 60-day horizon
        "2026-03-03T08:00:00": (400, "aware"),  # no zone
    }
    for starts_at, (status, words) in cases.items():
        response = client.post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": starts_at})
        assert response.status_code == status, (starts_at, response.json)
        assert "starts_at" in response.json["error"]["fields"], starts_at
        assert words in response.json["error"]["message"], (starts_at, response.json)
    missing = client.post("/api/v1/bookings", json={"mentor_id": mentor.id})
    assert missing.status_code == 400 and "starts_at" in missing.json["error"]["fields"]
    assert active_bookings(app, mentor.id) == []


@pytest.mark.db
def test_mentors_not_approved_cannot_be_booked(app, clock, learner, as_user):
    client = as_user(learner)
    for i, status in enumerate((MentorStatus.PENDING, MentorStatus.REJECTED, MentorStatus.SUSPENDED)):
        mentor = create_mentor(app, f"m{i}@example.com", status=status)
        response = client.post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT})
        assert response.status_code == 422 and "mentor_id" in response.json["error"]["fields"], status
        assert client.get(f"/api/v1/bookings/mentors/{mentor.id}/slots").status_code == 422
    unknown = client.post("/api/v1/bookings", json={"mentor_id": 999999, "starts_at": SLOT})
    assert unknown.status_code == 404 and "mentor_id" in unknown.json["error"]["fields"]


@pytest.mark.db
def test_someone_elses_booking_cannot_be_touched(app, clock, mentor, learner, as_user):
    booking = as_user(learner).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT}).json
    intruder = as_user(create_person(app, "eve@example.com", roles=("learner", "mentor")))
    for action in ("accept", "reject", "cancel", "complete", "no-show"):
        response = intruder.post(f"/api/v1/bookings/{booking['id']}/{action}", json={"reason": "mine now"})
        assert response.status_code == 403 and "booking_id" in response.json["error"]["fields"], action
    moved = intruder.post(f"/api/v1/bookings/{booking['id']}/reschedule", json={"starts_at": "2026-03-04T08:00:00Z"})
    assert moved.status_code == 403 and "booking_id" in moved.json["error"]["fields"]
    assert intruder.get(f"/api/v1/bookings/{booking['id']}").status_code == 404
    assert as_user(learner).get(f"/api/v1/bookings/{booking['id']}").json["status"] == "requested"


def test_who_may_request(app, clock, mentor, as_user):
    anonymous = as_user(None).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT})
    assert anonymous.status_code == 401
    unverified = as_user(create_person(app, "new@example.com", verified=False))
    refused = unverified.post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT})
    assert refused.status_code == 403 and "account" in refused.json["error"]["fields"]
    self_booking = as_user(mentor).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT})
    assert self_booking.status_code == 403 and "role" in self_booking.json["error"]["fields"]  # mentors-only account
    no_csrf = as_user(create_person(app, "x@example.com")).client.post(
        "/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT})
    assert no_csrf.status_code == 400


def test_a_learner_cannot_be_in_two_sessions_at_once(app, clock, mentor, learner, as_user):
    other_mentor = create_mentor(app, "mo@example.com")
    client = as_user(learner)
    assert client.post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT}).status_code == 201
    clash = client.post("/api/v1/bookings", json={"mentor_id": other_mentor.id, "starts_at": SLOT})
    assert clash.status_code == 409 and "already have a session" in clash.json["error"]["message"]
