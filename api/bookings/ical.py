"""A private iCalendar feed of each user's sessions (as mentor and as learner), for any calendar app."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import or_, select

from api.addresses import public_base_url
from api.bookings.transaction import serialised_write
from api.extensions import db
from api.tables import Booking, BookingStatus, CalendarFeed, User

STATUS = {
    BookingStatus.REQUESTED: "TENTATIVE",
    BookingStatus.ACCEPTED: "CONFIRMED",
    BookingStatus.COMPLETED: "CONFIRMED",
}
PAST_DAYS = 90  # how far back the feed reaches


def feed_url(token: str) -> str:
    return f"{public_base_url()}/bookings/feed/{token}.ics"


def feed_token(user_id: int, rotate: bool = False) -> str:
    """The user's feed token, made on first use; rotating it kills the old URL."""
    feed = db.session.get(CalendarFeed, user_id)
    if feed is not None and not rotate:
        return feed.token
    with serialised_write():
        feed = db.session.get(CalendarFeed, user_id)
        if feed is None:
            feed = CalendarFeed(user_id=user_id, token=secrets.token_urlsafe(32))
            db.session.add(feed)
        elif rotate:
            feed.token = secrets.token_urlsafe(32)
        token = feed.token
    return token


def user_for_token(token: str) -> User | None:
    if not token or len(token) > 64:
        return None
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token == token))
    return db.session.get(User, feed.user_id) if feed else None


def build_feed(user: User, now: datetime, base_url: str) -> bytes:
    """VCALENDAR with one VEVENT per session of the last PAST_DAYS days and the future; ended bookings
    that did not happen are sent as CANCELLED so subscribed calendars remove them."""
    calendar = Calendar()
    calendar.add("prodid", "-//MentorHub//Bookings//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "MentorHub sessions")
    bookings = db.session.scalars(select(Booking).where(
        or_(Booking.mentor_id == user.id, Booking.learner_id == user.id),
        Booking.ends_at >= now - timedelta(days=PAST_DAYS),
    ).order_by(Booking.starts_at))
    for booking in bookings:
        other = db.session.get(User, booking.learner_id if booking.mentor_id == user.id else booking.mentor_id)
        role = "mentor" if booking.mentor_id == user.id else "learner"
        event = Event()
        event.add("uid", f"booking-{booking.id}@mentorhub")
        event.add("dtstamp", now)
        event.add("dtstart", booking.starts_at)
        event.add("dtend", booking.ends_at)
        event.add("sequence", max(0, int((booking.updated_at - booking.created_at).total_seconds())))
        event.add("summary", f"MentorHub session with {other.full_name}" + (" (request)" if booking.status == BookingStatus.REQUESTED else ""))
        link = f"{base_url.rstrip('/')}/bookings/{booking.id}"
        description = f"You are the {role}. Status: {booking.status.value.replace('_', ' ')}.\n"
        if booking.video_link and booking.status == BookingStatus.ACCEPTED:
            description += f"Video call: {booking.video_link}\n"
            event.add("location", booking.video_link)
        event.add("description", description + f"Manage: {link}")
        event.add("url", link)
        event.add("status", STATUS.get(booking.status, "CANCELLED"))
        calendar.add_component(event)
    return calendar.to_ical()
