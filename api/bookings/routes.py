"""Server-rendered pages: pick a slot and request it, dashboards for learners and mentors, calendar links."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from itertools import groupby

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from api.addresses import public_base_url
from api.auth.decorators import auth_required, verified_required
from api.bookings import calendar_sync, ical, service
from api.bookings.policy import payment_first
from api.bookings.service import BookingError, available_actions, slot_range
from api.bookings.timefmt import format_day, format_span, format_when, local
from api.errors import error_response
from api.extensions import db
from api.redirects import redirect_to_next
from api.settings import current_settings
from api.tables import Booking, Notification, Role, User

bp = Blueprint("bookings", __name__)


@bp.errorhandler(BookingError)
def _booking_error(error: BookingError):
    return error_response(error.status, error.message, error.fields)


def _viewer() -> User:
    """The signed-in user (admitted by the view's guard) as the row the services take."""
    return current_user._get_current_object()


@bp.app_template_filter("booking_when")
def _booking_when(start: datetime, end: datetime | None = None, tz_name: str | None = None) -> str:
    return format_when(start, end, tz_name)


@bp.app_context_processor
def _pending_requests():
    def pending_requests() -> int:
        """For the navigation: how many requests wait for the signed-in mentor's answer."""
        if not current_user.is_authenticated or not current_user.has_role(Role.MENTOR):
            return 0
        try:
            return service.answerable_requests(current_user.id, service.now_utc())
        except SQLAlchemyError:  # the navigation must render, even on an error page after a failed query
            db.session.rollback()
            return 0

    return {"pending_requests": pending_requests}


def _parse_start(value: str | None) -> datetime:
    if not value:
        raise BookingError(422, "Please choose a time slot.", "starts_at")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BookingError(422, "That is not a valid time.", "starts_at") from None
    if parsed.tzinfo is None:
        raise BookingError(422, "The time must carry its zone.", "starts_at")
    return parsed


# ---------------------------------------------------------------- picking a slot


def _days(free: list, tz_name: str) -> list[tuple[str, list]]:
    """Free slots grouped by day in the viewer's zone: (day as shown, its slots)."""
    return [(format_day(day_slots[0].start, tz_name), day_slots)
            for _, group in groupby(free, key=lambda s: local(s.start, tz_name).date())
            for day_slots in [list(group)]]


def _bookable_mentor(mentor_id: int):
    try:
        return service.get_mentor(mentor_id)
    except BookingError as error:
        abort(404 if error.status == 404 else 422, error.message)


def _book_form(mentor_id: int, errors: dict[str, str] | None = None, note: str = "", status: int = 200):
    """The mentor's free slots for a week in the learner's own zone, with the request form."""
    user = _viewer()
    mentor = _bookable_mentor(mentor_id)
    now = service.now_utc()
    start, end = slot_range(request.args.get("start"), 7, user.timezone, now)
    free = service.mentor_free_slots(mentor, now, start, end)
    first_local = local(start, user.timezone).date()
    return render_template(
        "bookings/book.html", mentor=mentor, mentor_user=db.session.get(User, mentor_id),
        days=_days(free, user.timezone), viewer=user, errors=errors or {}, note=note, format_span=format_span,
        previous_start=(first_local - timedelta(days=7)).isoformat() if start > now else None,
        next_start=(first_local + timedelta(days=7)).isoformat(),
    ), status


@bp.get("/bookings/mentors/<int:mentor_id>/book")
@auth_required
def book(mentor_id: int):
    """The learner sees the mentor's free slots in their own zone and requests one with a note."""
    return _book_form(mentor_id)


@bp.post("/bookings/mentors/<int:mentor_id>/book")
@verified_required
def request_slot(mentor_id: int):
    """The learner's request for one slot; the form again, with the reason, when it is refused."""
    user = _viewer()
    _bookable_mentor(mentor_id)
    note = request.form.get("note", "")
    try:
        booking = service.request_booking(user, mentor_id, _parse_start(request.form.get("starts_at")), note.strip())
    except BookingError as error:
        flash(error.message, "error")
        return _book_form(mentor_id, error.fields or {"form": error.message}, note, error.status)
    mentor_user = db.session.get(User, mentor_id)
    flash(f"Request sent to {mentor_user.full_name} for "
          f"{format_when(booking.starts_at, booking.ends_at, user.timezone)}.", "success")
    if payment_first():  # the mentor sees the request once it is paid
        return redirect(url_for("payments.pay_page", booking_id=booking.id))
    return redirect(url_for("bookings.dashboard"))


# ---------------------------------------------------------------- dashboards


def _dashboard_sections(user: User, is_mentor: bool, now: datetime) -> dict[str, list[Booking]]:
    """Requests to answer, upcoming sessions as mentor and as learner, and the 50 latest past sessions."""
    mentor_upcoming = service.bookings_of(user, "mentor", "upcoming", now) if is_mentor else []
    past = service.bookings_of(user, "learner", "past", now, 50)
    if is_mentor:
        past += service.bookings_of(user, "mentor", "past", now, 50)
    return {
        "requests": [b for b in mentor_upcoming if b.status.value == "requested"],
        "mentor_upcoming": [b for b in mentor_upcoming if b.status.value == "accepted"],
        "learner_upcoming": service.bookings_of(user, "learner", "upcoming", now),
        "past": sorted(past, key=lambda b: b.starts_at, reverse=True)[:50],
    }


@bp.get("/bookings/")
@auth_required
def dashboard():
    """Upcoming and past sessions as learner and as mentor, in the viewer's own time zone, with actions."""
    user = _viewer()
    is_mentor = user.has_role(Role.MENTOR)
    sections = _dashboard_sections(user, is_mentor, service.now_utc())
    people = {u.id: u for u in db.session.query(User).filter(User.id.in_(
        {b.mentor_id for s in sections.values() for b in s} | {b.learner_id for s in sections.values() for b in s}))}
    reviewed = service.reviewed_booking_ids(b.id for b in sections["past"] if b.status.value == "completed")
    notices = db.session.query(Notification).filter(Notification.user_id == user.id).order_by(
        Notification.id.desc()).limit(8).all()
    return render_template(
        "bookings/dashboard.html", viewer=user, sections=sections, people=people, notices=notices,
        is_mentor=is_mentor, actions=available_actions, reviewed=reviewed, connection=calendar_sync.connection_of(user.id, False),
        feed=ical.feed_url(ical.feed_token(user.id)), google_configured=bool(current_settings().google_client_id),
    )


@bp.get("/bookings/<int:booking_id>")
@auth_required
def detail(booking_id: int):
    user = _viewer()
    booking = db.session.get(Booking, booking_id)
    if booking is None or user.id not in (booking.mentor_id, booking.learner_id):
        abort(404)
    role = "mentor" if booking.mentor_id == user.id else "learner"
    other = db.session.get(User, booking.learner_id if role == "mentor" else booking.mentor_id)
    return render_template("bookings/detail.html", booking=booking, viewer=user, role=role, other=other,
                           actions=available_actions, reviewed=service.reviewed_booking_ids([booking.id]))


@bp.post("/bookings/<int:booking_id>/<any(accept, reject, cancel, complete, 'no-show'):action>")
@auth_required
def act_page(booking_id: int, action: str):
    user = _viewer()
    try:
        booking = service.act(action, booking_id, user, request.form.get("reason", "").strip())
        flash(f"Booking {booking.status.value.replace('_', ' ')}: "
              f"{format_when(booking.starts_at, booking.ends_at, user.timezone)}.", "success")
    except BookingError as error:
        flash(error.message, "error")
    return redirect_to_next(request.form.get("next"), url_for("bookings.dashboard"))


@bp.route("/bookings/<int:booking_id>/reschedule", methods=["GET", "POST"])
@auth_required
def reschedule_page(booking_id: int):
    user = _viewer()
    booking = db.session.get(Booking, booking_id)
    if booking is None or user.id not in (booking.mentor_id, booking.learner_id):
        abort(404)
    if request.method == "POST":
        try:
            moved = service.reschedule(booking_id, user, _parse_start(request.form.get("starts_at")),
                                       request.form.get("reason", "").strip())
            flash(f"Session moved to {format_when(moved.starts_at, moved.ends_at, user.timezone)}.", "success")
            return redirect(url_for("bookings.dashboard"))
        except BookingError as error:
            flash(error.message, "error")
    mentor = service.get_mentor(booking.mentor_id, bookable=False)
    now = service.now_utc()
    start, end = slot_range(request.args.get("start"), 7, user.timezone, now)
    free = service.mentor_free_slots(mentor, now, start, end)
    return render_template("bookings/reschedule.html", booking=booking, viewer=user, days=_days(free, user.timezone),
                           format_span=format_span, mentor=mentor)


# ---------------------------------------------------------------- calendars


@bp.get("/bookings/calendar/google/connect")
@auth_required
def google_connect():
    if not current_settings().google_client_id:
        flash("Google Calendar is not configured on this MentorHub.", "error")
        return redirect(url_for("bookings.dashboard"))
    state = secrets.token_urlsafe(24)
    session["bookings_google_state"] = state
    return redirect(calendar_sync.authorization_url(_callback_url(), state))


def _callback_url() -> str:
    return public_base_url() + url_for("bookings.google_callback")


@bp.get("/bookings/calendar/google/callback")
@auth_required
def google_callback():
    user = _viewer()
    expected = session.pop("bookings_google_state", None)
    if not expected or request.args.get("state") != expected:
        flash("The calendar connection did not come from this browser session; please try again.", "error")
        return redirect(url_for("bookings.dashboard"))
    if request.args.get("error") or not request.args.get("code"):
        flash("Google Calendar was not connected (access was not granted).", "error")
        return redirect(url_for("bookings.dashboard"))
    try:
        tokens = calendar_sync.exchange_code(request.args["code"], _callback_url())
    except (calendar_sync.CalendarAuthError, OSError, ValueError) as error:
        flash(f"Google Calendar could not be connected: {error}", "error")
        return redirect(url_for("bookings.dashboard"))
    calendar_sync.save_connection(user.id, tokens)
    flash("Google Calendar connected: confirmed sessions will appear in it, and your busy times are respected.",
          "success")
    return redirect(url_for("bookings.dashboard"))


@bp.post("/bookings/calendar/google/disconnect")
@auth_required
def google_disconnect():
    user = _viewer()
    calendar_sync.disconnect(user.id)
    flash("Google Calendar disconnected.", "success")
    return redirect(url_for("bookings.dashboard"))


@bp.post("/bookings/calendar/feed/rotate")
@auth_required
def rotate_feed_page():
    user = _viewer()
    ical.feed_token(user.id, rotate=True)
    flash("Your calendar feed has a new private address; the old one no longer works.", "success")
    return redirect(url_for("bookings.dashboard"))


@bp.get("/bookings/feed/<token>.ics")
def feed(token: str):
    """The private iCalendar feed (no login: the unguessable token is the key)."""
    user = ical.user_for_token(token)
    if user is None:
        abort(404)
    body = ical.build_feed(user, service.now_utc(), public_base_url())
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": 'inline; filename="mentorhub.ics"', "Cache-Control": "private, max-age=300"})
