"""The private iCalendar feed, reminders sent by the periodic job, and the server-rendered pages."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar

from api.bookings.jobs import run_jobs
from tests.api.bookings.conftest import NOW, create_person

SLOT = "2026-03-03T08:00:00Z"  # Tuesday 09:00 Berlin, 03:00 New York


@pytest.fixture
def accepted(app, clock, mentor, learner, as_user):
    booking = as_user(learner).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT,
                                                              "note": "SQL joins"}).json
    as_user(mentor).post(f"/api/v1/bookings/{booking['id']}/accept")
    return booking


def test_ical_feed_is_private_and_lists_sessions(app, clock, accepted, learner, mentor, as_user):
    client = as_user(learner)
    url = client.get("/api/v1/bookings/calendar").json["feed_url"]
    assert url.startswith("http://localhost/bookings/feed/")  # the address the request came to (test_link_addresses.py)
    path = urlsplit(url).path
    anonymous = app.test_client().get(path)
    assert anonymous.status_code == 200 and anonymous.mimetype == "text/calendar"
    calendar = Calendar.from_ical(anonymous.data)
    [event] = calendar.walk("VEVENT")
    assert str(event["uid"]) == f"booking-{accepted['id']}@mentorhub"
    assert event.decoded("dtstart").isoformat() == "2026-03-03T08:00:00+00:00"
    assert str(event["status"]) == "CONFIRMED" and "Mara Mentor" in str(event["summary"])
    assert "meet.jit.si" in str(event["location"])
    assert app.test_client().get("/bookings/feed/not-a-token.ics").status_code == 404
    rotated = client.post("/api/v1/bookings/calendar/feed-token").json["feed_url"]
    assert rotated != url and app.test_client().get(path).status_code == 404
    as_user(mentor).post(f"/api/v1/bookings/{accepted['id']}/cancel", json={"reason": "Ill"})
    [cancelled] = Calendar.from_ical(app.test_client().get(urlsplit(rotated).path).data).walk("VEVENT")
    assert str(cancelled["status"]) == "CANCELLED"


def test_reminders_are_sent_once_per_offset_to_both_sides(app, clock, accepted, outbox):
    with app.app_context():
        assert run_jobs(NOW)["reminded"] == 1  # 24 hours before: the day-before reminder is due
        assert run_jobs(NOW + timedelta(minutes=5))["reminded"] == 0
        assert run_jobs(NOW + timedelta(hours=23, minutes=1))["reminded"] == 1  # the one-hour reminder
        assert run_jobs(NOW + timedelta(hours=23, minutes=30))["reminded"] == 0
    reminders = [m for m in outbox() if m["kind"] == "booking.reminder"]
    assert sorted(m["to"] for m in reminders) == ["leo@example.com", "leo@example.com",
                                                  "mentor@example.com", "mentor@example.com"]
    learner_first = next(m for m in reminders if m["to"] == "leo@example.com")
    assert "03:00–04:00 EST" in learner_first["body"] and "in 24 h 00 min" in learner_first["subject"]


def test_reminders_skip_unconfirmed_sessions(app, clock, mentor, learner, as_user, outbox):
    as_user(learner).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT})
    with app.app_context():
        assert run_jobs(NOW + timedelta(hours=23, minutes=30))["reminded"] == 0


def test_booking_page_shows_slots_in_the_learners_zone_and_requests(app, clock, mentor, learner, as_user):
    client = as_user(learner)
    page = client.get(f"/bookings/mentors/{mentor.id}/book?start=2026-03-03")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Tuesday 3 March 2026" in html and "03:00–04:00 EST" in html
    assert "America/New_York" in html
    done = client.form(f"/bookings/mentors/{mentor.id}/book", {"starts_at": "2026-03-03T08:00:00+00:00",
                                                               "note": "Window functions"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/bookings/")
    again = client.form(f"/bookings/mentors/{mentor.id}/book", {"starts_at": "2026-03-03T08:00:00+00:00"})
    assert again.status_code == 409 and "no longer free" in again.get_data(as_text=True)
    missing = client.form(f"/bookings/mentors/{mentor.id}/book", {"note": "x"})
    assert missing.status_code == 422 and "Please choose a time slot" in missing.get_data(as_text=True)


def test_dashboards_show_each_viewer_their_own_zone_and_actions(app, clock, mentor, learner, as_user):
    client = as_user(learner)
    client.form(f"/bookings/mentors/{mentor.id}/book", {"starts_at": "2026-03-03T08:00:00+00:00", "note": "Hi"})
    mentor_page = as_user(mentor).get("/bookings/").get_data(as_text=True)
    assert "Tue 3 Mar 2026, 09:00–10:00 CET" in mentor_page and "Accept" in mentor_page and "Reject" in mentor_page
    learner_page = client.get("/bookings/").get_data(as_text=True)
    assert "Tue 3 Mar 2026, 03:00–04:00 EST" in learner_page and "Withdraw request" in learner_page
    booking_id = as_user(learner).get("/api/v1/bookings").json["bookings"][0]["id"]
    rejected = as_user(mentor).form(f"/bookings/{booking_id}/reject", {"reason": "Fully booked"})
    assert rejected.status_code == 302
    assert "Fully booked" in client.get("/bookings/").get_data(as_text=True)


def test_pages_need_a_login_and_hide_other_peoples_bookings(app, clock, accepted, as_user):
    response = app.test_client().get("/bookings/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    outsider = as_user(create_person(app, "eve@example.com"))
    assert outsider.get(f"/bookings/{accepted['id']}").status_code == 404
    refused = outsider.form(f"/bookings/{accepted['id']}/cancel", {"reason": "mine"})
    assert refused.status_code == 302  # back to the dashboard with the refusal flashed
    assert "This booking is not yours" in outsider.get("/bookings/").get_data(as_text=True)
