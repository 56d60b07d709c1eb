"""Periodic booking jobs: expire unanswered requests, complete finished sessions, send reminders.

The scheduler calls `run_jobs()` inside an app context; the click command `run_jobs_command` (`mentorhub run-jobs`)
runs them in the app its caller passes as the click context object. Every step is idempotent, so overlapping runs
are harmless.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.addresses import public_base_url
from api.bookings import notices, service
from api.bookings.service import BookingError
from api.bookings.timefmt import format_when
from api.bookings.transaction import serialised_write
from api.extensions import db
from api.settings import current_settings
from api.tables import Booking, BookingReminder, BookingStatus, User

logger = logging.getLogger(__name__)


def expire_requests(now: datetime) -> int:
    """Requests the mentor did not answer by their deadline (or by the session's start) expire."""
    count = 0
    for booking_id in service.due_for_expiry(now):
        try:
            service.expire(booking_id, now)
            count += 1
        except BookingError:  # answered meanwhile
            continue
    return count


def complete_sessions(now: datetime) -> int:
    """Accepted sessions that ended `booking_complete_after_hours` ago and were not reported become completed."""
    count = 0
    for booking_id in service.due_for_completion(now):
        try:
            service.complete(booking_id, None, now)
            count += 1
        except BookingError:
            continue
    return count


def send_reminders(now: datetime) -> int:
    """One reminder per due offset (settings.booking_reminder_minutes) to both sides of an accepted session.

    When several offsets are due at once (a session accepted at short notice) only the nearest is sent.
    """
    offsets = sorted(set(current_settings().booking_reminder_minutes))
    if not offsets:
        return 0
    sent = 0
    horizon = now + timedelta(minutes=offsets[-1])
    candidates = db.session.scalars(select(Booking).where(Booking.status == BookingStatus.ACCEPTED,
                                                          Booking.starts_at > now, Booking.starts_at <= horizon))
    for booking in list(candidates):
        due = [m for m in offsets if booking.starts_at - timedelta(minutes=m) <= now]
        done = set(db.session.scalars(select(BookingReminder.minutes_before).where(
            BookingReminder.booking_id == booking.id, BookingReminder.starts_at == booking.starts_at)))
        if not [m for m in due if m not in done]:
            continue
        try:
            with serialised_write():
                for minutes in due:
                    if minutes not in done:
                        db.session.add(BookingReminder(booking_id=booking.id, minutes_before=minutes,
                                                       starts_at=booking.starts_at, sent_at=now))
                db.session.flush()
                _remind(booking, now)
            sent += 1
        except IntegrityError:  # another run sent it
            continue
    return sent


def _remind(booking: Booking, now: datetime) -> None:
    mentor, learner = db.session.get(User, booking.mentor_id), db.session.get(User, booking.learner_id)
    minutes = int((booking.starts_at - now).total_seconds() // 60)
    soon = f"in {minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"in {minutes} minutes"
    for person, other in ((mentor, learner), (learner, mentor)):
        body = (f"Your MentorHub session with {other.full_name} starts {soon}: "
                f"{format_when(booking.starts_at, booking.ends_at, person.timezone)}.")
        if booking.video_link:
            body += f"\nVideo link: {booking.video_link}"
        notices.notify(person, "booking.reminder", f"Reminder: session with {other.full_name} {soon}", body,
                       booking.id, f"{public_base_url()}/bookings/{booking.id}")


def run_jobs(now: datetime | None = None) -> dict[str, int]:
    """Every periodic booking job once; returns how many bookings each touched."""
    now = now or service.now_utc()
    return {
        "expired": expire_requests(now),
        "completed": complete_sessions(now),
        "reminded": send_reminders(now),
    }


@click.command("run-jobs")
@click.pass_obj
def run_jobs_command(app: Flask) -> None:
    """Expire unanswered requests, complete finished sessions and send due reminders (run every few minutes)."""
    with app.app_context():
        counts = run_jobs()
    click.echo(", ".join(f"{k}={v}" for k, v in counts.items()))
