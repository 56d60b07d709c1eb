"""The admin's mentors list: one page at a time, aggregated in SQL, a bounded number of queries whatever the size."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc
REQUESTED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)


def _add_mentors(app, count: int, start: int = 0, status: str = "approved") -> list[int]:
    """`count` mentors named "Mentor NNN", each with four bookings in the last weeks (one answered by the
    seeder's event shape), a captured payment and a refund."""
    from api.activity import log_event
    from api.extensions import db
    from api.tables import (Booking, BookingStatus, EventType, MentorProfile, MentorStatus, Payment, PaymentStatus,
                            Refund, Role, User, UserRole)

    ids = []
    with app.app_context():
        learner = User(email=f"learner-{start}@example.com", full_name="A Learner", password_hash="x")
        learner.roles = [UserRole(role=Role.LEARNER)]
        db.session.add(learner)
        for n in range(start, start + count):
            user = User(email=f"mentor{n:03d}@example.com", full_name=f"Mentor {n:03d}", password_hash="x")
            user.roles = [UserRole(role=Role.MENTOR)]
            db.session.add(user)
            db.session.flush()
            db.session.add(MentorProfile(user_id=user.id, price_minor=5000, currency="USD",
                                         status=MentorStatus(status), rating_count=2, rating_sum=9))
            db.session.flush()
            ids.append(user.id)
            for i, state in enumerate((BookingStatus.COMPLETED, BookingStatus.COMPLETED, BookingStatus.NO_SHOW,
                                       BookingStatus.REQUESTED)):
                at = REQUESTED_AT + timedelta(hours=i)
                booking = Booking(learner_id=learner.id, mentor_id=user.id, status=state, price_minor=5000,
                                  currency="USD", starts_at=at + timedelta(days=2 + i),
                                  ends_at=at + timedelta(days=2 + i, hours=1), created_at=at)
                db.session.add(booking)
                db.session.flush()
                if state is BookingStatus.REQUESTED:
                    continue
                if i == 0:  # the demo seeder's shape of an answer: status, not outcome
                    log_event(EventType.BOOKING_OUTCOME, user_id=learner.id, mentor_id=user.id,
                              booking_id=booking.id, occurred_at=at + timedelta(hours=2), status="accepted", by="mentor")
                else:
                    log_event(EventType.BOOKING_OUTCOME, user_id=user.id, mentor_id=user.id, booking_id=booking.id,
                              occurred_at=at + timedelta(hours=4), outcome="accepted", from_status="requested")
                payment = Payment(booking_id=booking.id, gateway="sandbox", status=PaymentStatus.CAPTURED,
                                  amount_minor=5000, captured_minor=5000, platform_fee_minor=750, currency="USD",
                                  created_at=at)
                db.session.add(payment)
                db.session.flush()
                if state is BookingStatus.NO_SHOW:
                    db.session.add(Refund(payment_id=payment.id, amount_minor=1000, currency="USD", reason="test",
                                          idempotency_key=f"r-{payment.id}", status="succeeded", created_at=at))
        db.session.commit()
    return ids


def _statements(app, client, path: str) -> tuple[int, str]:
    """SQL statements run while serving GET path (a SQLAlchemy event listener), and the page."""
    import sqlalchemy as sa

    from api.extensions import db

    seen = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(seen), response.get_data(as_text=True)


def _names(html: str) -> list[str]:
    return re.findall(r">(Mentor \d{3})</a>", html)


@pytest.mark.db
def test_the_mentors_list_runs_the_same_queries_for_12_or_120_mentors(app, admin):
    _add_mentors(app, 12)
    small, html = _statements(app, admin.client, "/admin/mentors/all")
    assert len(_names(html)) == 12
    _add_mentors(app, 108, start=12)
    large, html = _statements(app, admin.client, "/admin/mentors/all")
    assert large == small, "the number of SQL statements grows with the number of mentors"
    assert _names(html) == [f"Mentor {n:03d}" for n in range(50)]  # the first page, by name
    assert "Page 1 of 3" in html and "120 mentors" in html
    last, html = _statements(app, admin.client, "/admin/mentors/all?page=3")
    assert last == small and _names(html) == [f"Mentor {n:03d}" for n in range(100, 120)]
    page = admin.get("/api/v1/admin/mentors?page=2&per_page=25").get_json()  # the JSON API pages the same way
    assert (page["total"], page["page"], page["pages"]) == (120, 2, 5)
    assert [m["full_name"] for m in page["mentors"]] == [f"Mentor {n:03d}" for n in range(25, 50)]


@pytest.mark.db
def test_each_row_aggregates_bookings_answers_and_earnings(app, admin):
    [first, *_] = _add_mentors(app, 3)
    _add_mentors(app, 2, start=3, status="suspended")
    _, html = _statements(app, admin.client, "/admin/mentors/all?status=suspended")
    assert _names(html) == ["Mentor 003", "Mentor 004"]
    rows = admin.get("/api/v1/admin/mentors").get_json()["mentors"]
    assert [r["full_name"] for r in rows] == [f"Mentor {n:03d}" for n in range(5)]
    row = next(r for r in rows if r["mentor_id"] == first)
    assert (row["requests"], row["finished"], row["completed"], row["no_show"]) == (4, 3, 2, 1)
    assert row["completion_rate"] == pytest.approx(2 / 3) and row["no_show_rate"] == pytest.approx(1 / 3)
    assert row["response_hours"] == pytest.approx(4.0)  # median of 2 (seeder's event), 4 and 4 hours
    assert row["rating"] == pytest.approx(4.5)
    assert row["earnings"] == [{"mentor_id": first, "currency": "USD", "captured_minor": 15000, "fee_minor": 2250,
                                "refunds_minor": 1000, "earnings_minor": 12750}]
    page = admin.client.get("/admin/mentors/all?per_page=10&page=99")  # past the end: the last page
    assert page.status_code == 200 and "Mentor 000" in page.get_data(as_text=True)
