"""The booking state machine through the JSON API: every transition allowed and refused, events, notices.

The main paths run on both databases (`db`); the many refusals run on SQLite, they involve no SQL difference."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from api.bookings.policy import on_transition, remove_listener
from api.extensions import db
from api.tables import Booking, BookingChange, Event, EventType, Notification
from tests.api.bookings.conftest import NOW, create_person

TUESDAY_9_BERLIN = "2026-03-03T08:00:00Z"  # Tuesday 09:00 CET
TUESDAY_10_BERLIN = "2026-03-03T09:00:00Z"


def request_slot(client, mentor, starts_at=TUESDAY_9_BERLIN, note="Help me with pandas"):
    return client.post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": starts_at, "note": note})


@pytest.fixture
def booked(app, clock, mentor, learner, as_user):
    """A requested booking: (learner client, mentor client, booking json)."""
    learner_client, mentor_client = as_user(learner), as_user(mentor)
    response = request_slot(learner_client, mentor)
    assert response.status_code == 201, response.json
    return learner_client, mentor_client, response.json


def events(app, booking_id):
    with app.app_context():
        return [(e.event_type, e.payload) for e in db.session.scalars(
            sa.select(Event).where(Event.booking_id == booking_id).order_by(Event.id))]


def test_slots_are_listed_in_the_viewers_zone(app, clock, mentor, learner, as_user):
    response = as_user(learner).get(f"/api/v1/bookings/mentors/{mentor.id}/slots?start=2026-03-03&days=1")
    assert response.status_code == 200
    body = response.json
    assert body["timezone"] == "America/New_York" and body["mentor_timezone"] == "Europe/Berlin"
    assert [s["starts_at"] for s in body["slots"]] == ["2026-03-03T08:00:00Z", "2026-03-03T09:00:00Z",
                                                      "2026-03-03T10:00:00Z"]
    assert body["slots"][0]["local_starts_at"] == "2026-03-03T03:00:00-05:00"
    assert body["slots"][0]["display"] == "Tue 3 Mar 2026, 03:00–04:00 EST"


@pytest.mark.db
def test_request_then_accept_then_complete(app, clock, booked, outbox):
    learner_client, mentor_client, booking = booked
    assert booking["status"] == "requested" and booking["note"] == "Help me with pandas"
    assert booking["display"] == "Tue 3 Mar 2026, 03:00–04:00 EST"  # the learner's zone
    assert booking["respond_by"] == "2026-03-03T08:00:00Z"  # 48 hours, capped by the session start

    accepted = mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["status"] == "accepted"
    assert accepted.json["display"] == "Tue 3 Mar 2026, 09:00–10:00 CET"  # the mentor's zone
    assert accepted.json["video_link"].startswith("https://meet.jit.si/mentorhub-")

    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/complete").status_code == 409  # not ended yet
    clock.set(NOW + timedelta(days=1, hours=2))  # after the session
    completed = mentor_client.post(f"/api/v1/bookings/{booking['id']}/complete")
    assert completed.status_code == 200 and completed.json["status"] == "completed"

    kinds = [(kind, payload.get("outcome")) for kind, payload in events(app, booking["id"])]
    assert kinds == [(EventType.BOOKING_REQUEST, None), (EventType.BOOKING_OUTCOME, "accepted"),
                     (EventType.BOOKING_OUTCOME, "completed")]
    sent = [(m["to"], m["kind"]) for m in outbox()]
    assert ("mentor@example.com", "booking.requested") in sent and ("leo@example.com", "booking.requested") in sent
    assert ("mentor@example.com", "booking.accepted") in sent and ("leo@example.com", "booking.accepted") in sent
    learner_notices = learner_client.get("/api/v1/bookings/notifications").json["notifications"]
    assert {n["kind"] for n in learner_notices} >= {"booking.requested", "booking.accepted", "booking.completed"}


def test_reject_needs_a_reason_and_frees_the_slot(app, clock, booked, mentor, as_user, outbox):
    learner_client, mentor_client, booking = booked
    refused = mentor_client.post(f"/api/v1/bookings/{booking['id']}/reject", json={"reason": ""})
    assert refused.status_code == 422 and "reason" in refused.json["error"]["fields"]
    rejected = mentor_client.post(f"/api/v1/bookings/{booking['id']}/reject", json={"reason": "Travelling that week"})
    assert rejected.json["status"] == "rejected" and rejected.json["status_reason"] == "Travelling that week"
    assert any("Travelling that week" in m["body"] for m in outbox() if m["to"] == "leo@example.com")
    other = create_person(app, "olga@example.com")
    assert request_slot(as_user(other), mentor).status_code == 201  # the slot is free again


@pytest.mark.parametrize("action, actor, status, field", [
    ("accept", "learner", 403, "booking_id"),  # only the mentor accepts
    ("reject", "learner", 403, "booking_id"),
    ("complete", "learner", 403, "booking_id"),
    ("no-show", "learner", 403, "booking_id"),
    ("accept", "stranger", 403, "booking_id"),  # someone else's booking
    ("cancel", "stranger", 403, "booking_id"),
    ("complete", "mentor", 409, "status"),  # requested cannot become completed
    ("no-show", "mentor", 409, "status"),
])
def test_refused_transitions_from_requested(app, clock, booked, as_user, action, actor, status, field):
    learner_client, mentor_client, booking = booked
    clients = {"learner": learner_client, "mentor": mentor_client,
               "stranger": as_user(create_person(app, "eve@example.com"))}
    response = clients[actor].post(f"/api/v1/bookings/{booking['id']}/{action}", json={"reason": "x"})
    assert response.status_code == status, response.json
    assert field in response.json["error"]["fields"]
    assert learner_client.get(f"/api/v1/bookings/{booking['id']}").json["status"] == "requested"


def test_terminal_states_refuse_every_transition(app, clock, booked):
    learner_client, mentor_client, booking = booked
    assert learner_client.post(f"/api/v1/bookings/{booking['id']}/cancel").json["status"] == "cancelled_by_learner"
    for client, action in ((mentor_client, "accept"), (mentor_client, "reject"), (learner_client, "cancel"),
                           (mentor_client, "complete"), (mentor_client, "no-show")):
        response = client.post(f"/api/v1/bookings/{booking['id']}/{action}", json={"reason": "r"})
        assert response.status_code == 409 and "status" in response.json["error"]["fields"], (action, response.json)


def test_cancellation_policy_and_payments_hook(app, clock, booked):
    learner_client, mentor_client, booking = booked
    mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    seen = []
    listener = on_transition(lambda change: seen.append((change.from_status.value, change.to_status.value,
                                                         change.actor_role, change.terms)))
    try:
        early = learner_client.get(f"/api/v1/bookings/{booking['id']}/cancellation-terms").json
        assert early == {"refund_percent": 100, "late": False, "explanation": early["explanation"]}
        clock.set(NOW + timedelta(hours=10))  # 14 hours before the start: inside the 24-hour cut-off
        late = learner_client.get(f"/api/v1/bookings/{booking['id']}/cancellation-terms").json
        assert late["late"] is True and late["refund_percent"] == 50
        cancelled = learner_client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "Sick"})
        assert cancelled.json["status"] == "cancelled_by_learner"
    finally:
        remove_listener(listener)
    assert seen == [("accepted", "cancelled_by_learner", "learner", seen[0][3])]
    assert seen[0][3].refund_percent == 50 and seen[0][3].late
    outcome = events(app, booking["id"])[-1][1]
    assert outcome["outcome"] == "cancelled_by_learner" and outcome["refund_percent"] == 50


def test_mentor_cancellation_needs_a_reason_and_refunds_in_full(app, clock, booked):
    learner_client, mentor_client, booking = booked
    mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/cancel").status_code == 422
    cancelled = mentor_client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "Ill"})
    assert cancelled.json["status"] == "cancelled_by_mentor"
    assert events(app, booking["id"])[-1][1]["refund_percent"] == 100


def test_no_show_only_after_the_start(app, clock, booked):
    learner_client, mentor_client, booking = booked
    mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/no-show").status_code == 409
    clock.set(NOW + timedelta(days=1, minutes=15))
    assert learner_client.post(f"/api/v1/bookings/{booking['id']}/cancel").status_code == 409  # started
    marked = mentor_client.post(f"/api/v1/bookings/{booking['id']}/no-show", json={"reason": "Never joined"})
    assert marked.json["status"] == "no_show"


def test_accepting_after_the_answer_deadline_is_refused_and_the_job_expires_it(app, clock, booked, outbox):
    from api.bookings.jobs import run_jobs

    learner_client, mentor_client, booking = booked
    clock.set(NOW + timedelta(days=1))  # the session start = the deadline
    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept").status_code == 409
    with app.app_context():
        assert run_jobs(NOW + timedelta(days=1))["expired"] == 1
        assert run_jobs(NOW + timedelta(days=1))["expired"] == 0  # idempotent
    assert learner_client.get(f"/api/v1/bookings/{booking['id']}").json["status"] == "expired"
    assert ("leo@example.com", "booking.expired") in [(m["to"], m["kind"]) for m in outbox()]


def test_completion_job_completes_finished_sessions(app, clock, booked):
    from api.bookings.jobs import run_jobs

    learner_client, mentor_client, booking = booked
    mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    with app.app_context():
        assert run_jobs(NOW + timedelta(days=1, hours=2))["completed"] == 0  # within the no-show window
        assert run_jobs(NOW + timedelta(days=2, hours=2))["completed"] == 1
    assert learner_client.get(f"/api/v1/bookings/{booking['id']}").json["status"] == "completed"


@pytest.mark.db
def test_reschedule_by_learner_rechecks_and_asks_the_mentor_again(app, clock, booked, mentor, as_user):
    learner_client, mentor_client, booking = booked
    mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    # another learner holds Wednesday 09:00
    other = as_user(create_person(app, "olga@example.com"))
    assert request_slot(other, mentor, "2026-03-04T08:00:00Z").status_code == 201
    taken = learner_client.post(f"/api/v1/bookings/{booking['id']}/reschedule", json={"starts_at": "2026-03-04T08:00:00Z"})
    assert taken.status_code == 409 and "starts_at" in taken.json["error"]["fields"]
    outside = learner_client.post(f"/api/v1/bookings/{booking['id']}/reschedule", json={"starts_at": "2026-03-04T13:00:00Z"})
    assert outside.status_code == 422 and "availability" in outside.json["error"]["message"]
    moved = learner_client.post(f"/api/v1/bookings/{booking['id']}/reschedule",
                                json={"starts_at": "2026-03-04T09:00:00Z", "reason": "Clash at work"})
    assert moved.status_code == 200, moved.json
    assert moved.json["starts_at"] == "2026-03-04T09:00:00Z" and moved.json["status"] == "requested"
    # the old slot is free again: someone else can take Tuesday 09:00
    assert request_slot(as_user(create_person(app, "pia@example.com")), mentor).status_code == 201
    with app.app_context():
        change = db.session.scalars(sa.select(BookingChange)).one()
        assert change.old_starts_at.isoformat() == "2026-03-03T08:00:00+00:00" and change.reason == "Clash at work"
    assert events(app, booking["id"])[-1][1]["outcome"] == "rescheduled"
    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept").json["status"] == "accepted"


def test_reschedule_cut_off_for_learners_but_not_for_mentors(app, clock, booked):
    learner_client, mentor_client, booking = booked
    mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    clock.set(NOW + timedelta(hours=1))  # 23 hours before the session
    late = learner_client.post(f"/api/v1/bookings/{booking['id']}/reschedule", json={"starts_at": "2026-03-05T08:00:00Z"})
    assert late.status_code == 409 and "starts_at" in late.json["error"]["fields"]
    moved = mentor_client.post(f"/api/v1/bookings/{booking['id']}/reschedule", json={"starts_at": "2026-03-05T08:00:00Z"})
    assert moved.status_code == 200 and moved.json["status"] == "accepted"  # the mentor's move needs no confirmation


def test_lists_show_upcoming_and_past_per_role(app, clock, booked):
    learner_client, mentor_client, booking = booked
    assert [b["id"] for b in learner_client.get("/api/v1/bookings?as=learner").json["bookings"]] == [booking["id"]]
    mentor_view = mentor_client.get("/api/v1/bookings?as=mentor").json["bookings"]
    assert mentor_view[0]["actions"] == ["accept", "reject", "reschedule"]
    assert mentor_view[0]["with"]["name"] == "Leo Learner"
    assert learner_client.get("/api/v1/bookings?as=learner&when=past").json["bookings"] == []
    assert learner_client.get("/api/v1/bookings?as=teacher").status_code == 400


def test_mentor_policy_buffer_and_notice_apply(app, clock, mentor, learner, as_user):
    mentor_client = as_user(mentor)
    policy = mentor_client.put("/api/v1/bookings/policy", json={"buffer_minutes": 30, "min_notice_minutes": 60 * 30})
    assert policy.json["buffer_minutes"] == 30 and policy.json["min_notice_minutes"] == 1800
    learner_client = as_user(learner)
    too_soon = request_slot(learner_client, mentor)  # Tuesday 09:00 is 25 hours away, notice is 30
    assert too_soon.status_code == 422 and "notice" in too_soon.json["error"]["message"]
    assert request_slot(learner_client, mentor, "2026-03-04T08:00:00Z").status_code == 201
    other = as_user(create_person(app, "olga@example.com"))
    back_to_back = request_slot(other, mentor, "2026-03-04T09:00:00Z")  # within the 30-minute buffer
    assert back_to_back.status_code == 409


@pytest.mark.db
def test_back_to_back_sessions_are_allowed_by_default(app, clock, mentor, learner, as_user):
    assert request_slot(as_user(learner), mentor, TUESDAY_9_BERLIN).status_code == 201
    other = as_user(create_person(app, "olga@example.com"))
    assert request_slot(other, mentor, TUESDAY_10_BERLIN).status_code == 201
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 2


def test_every_transition_notifies_both_sides_in_app(app, clock, booked, mentor, learner):
    learner_client, mentor_client, booking = booked
    mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    with app.app_context():
        rows = db.session.scalars(sa.select(Notification).where(Notification.booking_id == booking["id"])).all()
        assert {(n.user_id, n.kind) for n in rows} == {(mentor.id, "booking.requested"), (learner.id, "booking.requested"),
                                                       (mentor.id, "booking.accepted"), (learner.id, "booking.accepted")}
