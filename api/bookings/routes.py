"""Server-rendered pages: pick a slot and request it, dashboards for learners and mentors, calendar links."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from itertools import groupby

from flask import Response, abort, flash, redirect, render_template, request, session, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BuildError

from api.addresses import public_base_url
from api.bookings import bp, calendar_sync, ical, service
from api.bookings.access import require_user, require_verified, signed_in_user
from api.bookings.api import available_actions, feed_url, slot_range
from api.bookings.policy import payment_first
from api.bookings.service import BookingError
from api.bookings.timefmt import format_day, format_span, format_when, local
from api.extensions import db
from api.redirects import redirect_to_next
from api.tables import Booking, Notification, Role, User


@bp.app_template_filter("booking_when")
def _booking_when(start: datetime, end: datetime | None = None, tz_name: str | None = None) -> str:
    return format_when(start, end, tz_name)


@bp.app_context_processor
def _pending_requests():
    def pending_requests() -> int:
        """For the navigation: how many requests wait for the signed-in mentor's answer."""
        user = signed_in_user()
        if user is None or not user.has_role(Role.MENTOR):
            return 0
        try:
            return service.answerable_requests(user.id, service.now_utc())
        except SQLAlchemyError:  # the navigation must render, even on an error page after a failed query
            db.session.rollback()
            return 0

    return {"pending_requests": pending_requests}


def _login_redirect():
    try:
        target = url_for("auth.login", next=request.full_path)
    except BuildError:
        target = "/login?next=" + request.full_path
    return redirect(target)


def _user_or_login():
    user = signed_in_user()
    return user, (None if user else _login_redirect())


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


@bp.route("/bookings/mentors/<int:mentor_id>/book", methods=["GET", "POST"])
@bp.doc(hide=True)
def book(mentor_id: int):
    """The learner sees the mentor's free slots in their own zone and requests one with a note."""
    user, redirect_to_login = _user_or_login()
    if redirect_to_login:
        return redirect_to_login
    try:
        mentor = service.get_mentor(mentor_id)
    except BookingError as error:
        abort(404 if error.status == 404 else 422, error.message)
    mentor_user = db.session.get(User, mentor_id)
    errors: dict[str, str] = {}
    error_status = 200
    note = request.form.get("note", "")
    if request.method == "POST":
        try:
            require_verified(user)
            booking = service.request_booking(user, mentor_id, _parse_start(request.form.get("starts_at")), note.strip())
            flash(f"Request sent to {mentor_user.full_name} for "
                  f"{format_when(booking.starts_at, booking.ends_at, user.timezone)}.", "success")
            if payment_first():  # the mentor sees the request once it is paid
                return redirect(url_for("payments.pay_page", booking_id=booking.id))
            return redirect(url_for("bookings.dashboard"))
        except BookingError as error:
            errors, error_status = error.fields or {"form": error.message}, error.status
            flash(error.message, "error")
    now = service.now_utc()
    start, end = slot_range(request.args.get("start"), 7, user.timezone, now)
    free = service.mentor_free_slots(mentor, now, start, end)
    days = [(format_day(day_slots[0].start, user.timezone), day_slots)
            for _, group in groupby(free, key=lambda s: local(s.start, user.timezone).date())
            for day_slots in [list(group)]]
    first_local = local(start, user.timezone).date()
    return render_template(
        "bookings/book.html", mentor=mentor, mentor_user=mentor_user, days=days, viewer=user, errors=errors,
        note=note, format_span=format_span,
        previous_start=(first_local - timedelta(days=7)).isoformat() if start > now else None,
        next_start=(first_local + timedelta(days=7)).isoformat(),
    ), error_status


# ---------------------------------------------------------------- dashboards


@bp.get("/bookings/")
@bp.doc(hide=True)
def dashboard():
    """Upcoming and past sessions as learner and as mentor, in the viewer's own time zone, with actions."""
    user, redirect_to_login = _user_or_login()
    if redirect_to_login:
        return redirect_to_login
    now = service.now_utc()
    is_mentor = user.has_role(Role.MENTOR)
    mentor_upcoming = service.bookings_of(user, "mentor", "upcoming", now) if is_mentor else []
    sections = {
        "requests": [b for b in mentor_upcoming if b.status.value == "requested"],
        "mentor_upcoming": [b for b in mentor_upcoming if b.status.value == "accepted"],
        "learner_upcoming": service.bookings_of(user, "learner", "upcoming", now),
        "past": sorted(service.bookings_of(user, "learner", "past", now, 50)
                       + (service.bookings_of(user, "mentor", "past", now, 50) if is_mentor else []),
                       key=lambda b: b.starts_at, reverse=True)[:50],
    }
    people = {u.id: u for u in db.session.query(User).filter(User.id.in_(
        {b.mentor_id for s in sections.values() for b in s} | {b.learner_id for s in sections.values() for b in s}))}
    reviewed = service.reviewed_booking_ids(b.id for b in sections["past"] if b.status.value == "completed")
    notices = db.session.query(Notification).filter(Notification.user_id == user.id).order_by(
        Notification.id.desc()).limit(8).all()
    return render_template(
        "bookings/dashboard.html", viewer=user, sections=sections, people=people, notices=notices,
        is_mentor=is_mentor, actions=available_actions, reviewed=reviewed, connection=calendar_sync.connection_of(user.id, False),
        feed=feed_url(ical.feed_token(user.id)), google_configured=bool(service.settings().google_client_id),
    )


@bp.get("/bookings/<int:booking_id>")
@bp.doc(hide=True)
def detail(booking_id: int):
    user, redirect_to_login = _user_or_login()
    if redirect_to_login:
        return redirect_to_login
    booking = db.session.get(Booking, booking_id)
    if booking is None or user.id not in (booking.mentor_id, booking.learner_id):
        abort(404)
    role = "mentor" if booking.mentor_id == user.id else "learner"
    other = db.session.get(User, booking.learner_id if role == "mentor" else booking.mentor_id)
    return render_template("bookings/detail.html", booking=booking, viewer=user, role=role, other=other,
                           actions=available_actions, reviewed=service.reviewed_booking_ids([booking.id]))


@bp.post("/bookings/<int:booking_id>/<any(accept, reject, cancel, complete, 'no-show'):action>")
@bp.doc(hide=True)
def act_page(booking_id: int, action: str):
    user, redirect_to_login = _user_or_login()
    if redirect_to_login:
        return redirect_to_login
    reason = request.form.get("reason", "").strip()
    operations = {
        "accept": lambda: service.accept(booking_id, user),
        "reject": lambda: service.reject(booking_id, user, reason),
        "cancel": lambda: service.cancel(booking_id, user, reason),
        "complete": lambda: service.complete(booking_id, user),
        "no-show": lambda: service.mark_no_show(booking_id, user, reason),
    }
    try:
        booking = operations[action]()
        flash(f"Booking {booking.status.value.replace('_', ' ')}: "
              f"{format_when(booking.starts_at, booking.ends_at, user.timezone)}.", "success")
    except BookingError as error:
        flash(error.message, "error")
    return redirect_to_next(request.form.get("next"), url_for("bookings.dashboard"))


@bp.route("/bookings/<int:booking_id>/reschedule", methods=["GET", "POST"])
@bp.doc(hide=True)
def reschedule_page(booking_id: int):
    user, redirect_to_login = _user_or_login()
    if redirect_to_login:
        return redirect_to_login
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
    days = [(format_day(group_slots[0].start, user.timezone), group_slots)
            for _, group in groupby(free, key=lambda s: local(s.start, user.timezone).date())
            for group_slots in [list(group)]]
    return render_template("bookings/reschedule.html", booking=booking, viewer=user, days=days,
                           format_span=format_span, mentor=mentor)


# ---------------------------------------------------------------- calendars


@bp.get("/bookings/calendar/google/connect")
@bp.doc(hide=True)
def google_connect():
    user, redirect_to_login = _user_or_login()
    if redirect_to_login:
        return redirect_to_login
    if not service.settings().google_client_id:
        flash("Google Calendar is not configured on this MentorHub.", "error")
        return redirect(url_for("bookings.dashboard"))
    state = secrets.token_urlsafe(24)
    session["bookings_google_state"] = state
    return redirect(calendar_sync.authorization_url(_callback_url(), state))


def _callback_url() -> str:
    return public_base_url() + url_for("bookings.google_callback")


@bp.get("/bookings/calendar/google/callback")
@bp.doc(hide=True)
def google_callback():
    user, redirect_to_login = _user_or_login()
    if redirect_to_login:
        return redirect_to_login
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
@bp.doc(hide=True)
def google_disconnect():
    user = require_user()
    calendar_sync.disconnect(user.id)
    flash("Google Calendar disconnected.", "success")
    return redirect(url_for("bookings.dashboard"))


@bp.post("/bookings/calendar/feed/rotate")
@bp.doc(hide=True)
def rotate_feed_page():
    user = require_user()
    ical.feed_token(user.id, rotate=True)
    flash("Your calendar feed has a new private address; the old one no longer works.", "success")
    return redirect(url_for("bookings.dashboard"))


@bp.get("/bookings/feed/<token>.ics")
@bp.doc(hide=True)
def feed(token: str):
    """The private iCalendar feed (no login: the unguessable token is the key)."""
    user = ical.user_for_token(token)
    if user is None:
        abort(404)
    body = ical.build_feed(user, service.now_utc(), public_base_url())
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": 'inline; filename="mentorhub.ics"', "Cache-Control": "private, max-age=300"})
