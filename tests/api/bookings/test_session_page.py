"""The session page and the journeys that leave a booking: its page for each side, the Message button, the
"Rate this session" link (row, page and completion e-mail) and "My sessions" in the navigation."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from api.bookings.jobs import run_jobs
from tests.api.bookings.conftest import NOW, create_person

SLOT = "2026-03-03T08:00:00Z"  # Tuesday 09:00 Berlin, 03:00 New York
ENDED = NOW + timedelta(days=3)  # the session ended two days before, past the completion grace
WAITING = re.compile(r'aria-label="\d+ requests? waiting for your answer"')  # the count in the navigation


@pytest.fixture
def accepted(app, clock, mentor, learner, as_user):
    booking = as_user(learner).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT,
                                                              "note": "SQL joins"}).json
    assert as_user(mentor).post(f"/api/v1/bookings/{booking['id']}/accept").status_code == 200
    return booking


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.db
def test_each_side_sees_their_session_page_and_nobody_else(app, clock, accepted, mentor, learner, as_user):
    page = as_user(learner).get(f"/bookings/{accepted['id']}")
    assert page.status_code == 200
    html = _text(page)
    assert "Session with Mara Mentor" in html and "Tue 3 Mar 2026, 03:00–04:00 EST" in html
    assert "SQL joins" in html and "Cancel session" in html and "meet.jit.si" in html
    assert f'action="/chat/with/{mentor.id}"' in html  # Message the mentor

    page = as_user(mentor).get(f"/bookings/{accepted['id']}")
    assert page.status_code == 200
    html = _text(page)
    assert "Session with Leo Learner" in html and "Tue 3 Mar 2026, 09:00–10:00 CET" in html
    assert "Cancel session" in html and f'action="/chat/with/{learner.id}"' in html

    outsider = as_user(create_person(app, "eve@example.com"))
    assert outsider.get(f"/bookings/{accepted['id']}").status_code in (403, 404)
    assert "SQL joins" not in _text(outsider.get(f"/bookings/{accepted['id']}"))
    anonymous = app.test_client().get(f"/bookings/{accepted['id']}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert as_user(learner).get("/bookings/999999").status_code == 404


@pytest.mark.db
def test_a_completed_session_asks_the_learner_to_rate_it(app, clock, accepted, mentor, learner, as_user, outbox):
    booking_id = accepted["id"]
    review_path = f"/bookings/{booking_id}/review"
    assert review_path not in _text(as_user(learner).get(f"/bookings/{booking_id}"))  # not before it happened
    clock.set(ENDED)
    with app.app_context():
        assert run_jobs(ENDED)["completed"] == 1

    learner_client = as_user(learner)
    for url in ("/bookings/", f"/bookings/{booking_id}"):
        html = _text(learner_client.get(url))
        assert f'href="{review_path}">Rate this session</a>' in html, url
    assert "Rate this session" not in _text(as_user(mentor).get(f"/bookings/{booking_id}"))  # mentors are not asked

    [mail] = [m for m in outbox() if m["kind"] == "booking.completed" and m["to"] == "leo@example.com"]
    link = re.search(r"Rate this session: (\S+)", mail["body"]).group(1)
    assert link.endswith(review_path)
    [to_mentor] = [m for m in outbox() if m["kind"] == "booking.completed" and m["to"] == "mentor@example.com"]
    assert "Rate this session" not in to_mentor["body"]

    form = learner_client.get(review_path)  # the link leads to the review form
    assert form.status_code == 200 and "Mara Mentor" in _text(form)
    done = learner_client.form(review_path, {"rating": "5", "text": "Clear and patient."})
    assert done.status_code == 302
    html = _text(learner_client.get(f"/bookings/{booking_id}"))
    assert "Rate this session" not in html and f'href="{review_path}">Your review</a>' in html


@pytest.mark.db
def test_message_button_on_a_booking_opens_the_one_on_one_chat(app, clock, accepted, mentor, learner, as_user):
    learner_client = as_user(learner)
    html = _text(learner_client.get("/bookings/"))
    assert f'action="/chat/with/{mentor.id}"' in html and ">Message</button>" in html
    refused = learner_client.client.post(f"/chat/with/{mentor.id}")  # no CSRF token
    assert refused.status_code == 400
    opened = learner_client.form(f"/chat/with/{mentor.id}", {})
    low, high = sorted((mentor.id, learner.id))
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/chat/rooms/dm-{low}-{high}")
    room = learner_client.get(opened.headers["Location"])
    assert room.status_code == 200 and "Mara Mentor" in _text(room)
    back = as_user(mentor).form(f"/chat/with/{learner.id}", {})  # the mentor's button opens the same room
    assert back.headers["Location"].endswith(f"/chat/rooms/dm-{low}-{high}")


@pytest.mark.db
def test_navigation_leads_to_my_sessions_and_counts_a_mentors_waiting_requests(app, clock, mentor, learner, as_user):
    anonymous = _text(app.test_client().get("/mentors"))
    assert "My sessions" not in anonymous
    learner_client, mentor_client = as_user(learner), as_user(mentor)
    assert 'href="/bookings/" data-testid="nav-sessions"' in _text(learner_client.get("/mentors"))
    nav = _text(mentor_client.get("/mentors"))
    assert 'data-testid="nav-sessions">My sessions</a>' in nav  # nothing waiting: no count

    booking = learner_client.post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT}).json
    nav = _text(mentor_client.get("/mentors"))
    assert re.search(r'My sessions <span class="badge badge-count" aria-label="1 request waiting for your answer">1</span>',
                     nav)
    assert not WAITING.search(_text(learner_client.get("/mentors")))  # learners have no requests to answer

    app.config["PAYMENTS_REQUIRED"] = True  # payment first: an unpaid request is not the mentor's to answer yet
    assert not WAITING.search(_text(mentor_client.get("/mentors")))
    app.config["PAYMENTS_REQUIRED"] = False

    mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    assert not WAITING.search(_text(mentor_client.get("/bookings/")))
