"""The JSON API under /api/v1/bookings: slots, requests, transitions, rescheduling, notices, calendar."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Integer, String
from apiflask.validators import Length, OneOf, Range
from flask_login import current_user
from sqlalchemy import select

from api.auth.decorators import auth_required, verified_required
from api.bookings import calendar_sync, ical, service
from api.bookings.policy import policy_for
from api.bookings.service import BookingError, available_actions, slot_range
from api.bookings.slots import zone
from api.bookings.timefmt import format_when, iso_utc, local
from api.errors import error_response
from api.extensions import db
from api.tables import Booking, Notification, User

api_bp = APIBlueprint("bookings_api", __name__, tag="Bookings")


def _viewer() -> User:
    """The signed-in user (admitted by the view's guard) as the row the services take."""
    return current_user._get_current_object()


@api_bp.errorhandler(BookingError)
def _booking_error(error: BookingError):
    return error_response(error.status, error.message, error.fields)


class BookingIn(Schema):
    mentor_id = Integer(required=True)
    starts_at = AwareDateTime(required=True)
    note = String(load_default="", validate=Length(max=2000))
    topic_id = Integer(load_default=None, allow_none=True)


class ReasonIn(Schema):
    reason = String(load_default="", validate=Length(max=1000))


class RescheduleIn(Schema):
    starts_at = AwareDateTime(required=True)
    reason = String(load_default="", validate=Length(max=1000))


class PolicyIn(Schema):
    buffer_minutes = Integer(allow_none=True, validate=Range(0, 240))
    min_notice_minutes = Integer(allow_none=True, validate=Range(0, 60 * 24 * 30))
    horizon_days = Integer(allow_none=True, validate=Range(1, 365))
    slot_step_minutes = Integer(allow_none=True, validate=Range(0, 240))


class ListQuery(Schema):
    as_ = String(data_key="as", load_default="learner", validate=OneOf(["learner", "mentor"]))
    when = String(load_default="upcoming", validate=OneOf(["upcoming", "past"]))


class SlotQuery(Schema):
    start = String(load_default=None)  # YYYY-MM-DD in the viewer's zone
    days = Integer(load_default=7, validate=Range(1, 62))
    tz = String(load_default=None)


def booking_json(booking: Booking, viewer: User) -> dict:
    """A booking as its viewer sees it: UTC times, the same in the viewer's zone, and what they can do."""
    other_id = booking.learner_id if booking.mentor_id == viewer.id else booking.mentor_id
    other = service.user_by_id(other_id)
    role = "mentor" if booking.mentor_id == viewer.id else "learner"
    return {
        "id": booking.id,
        "status": booking.status.value,
        "role": role,
        "mentor_id": booking.mentor_id,
        "learner_id": booking.learner_id,
        "with": {"id": other.id, "name": other.full_name},
        "starts_at": iso_utc(booking.starts_at),
        "ends_at": iso_utc(booking.ends_at),
        "local_starts_at": local(booking.starts_at, viewer.timezone).isoformat(),
        "local_ends_at": local(booking.ends_at, viewer.timezone).isoformat(),
        "timezone": viewer.timezone,
        "display": format_when(booking.starts_at, booking.ends_at, viewer.timezone),
        "note": booking.note,
        "status_reason": booking.status_reason,
        "price_minor": booking.price_minor,
        "currency": booking.currency,
        "charge_minor": booking.charge_minor,
        "charge_currency": booking.charge_currency,
        "video_link": booking.video_link if booking.status.value == "accepted" else None,
        "respond_by": iso_utc(booking.respond_by),
        "actions": available_actions(booking, role),
    }


# ---------------------------------------------------------------- slots


@api_bp.get("/api/v1/bookings/mentors/<int:mentor_id>/slots")
@api_bp.input(SlotQuery, location="query", arg_name="query")
def slots(mentor_id: int, query: dict):
    """Free slots of an approved mentor, with times in the viewer's zone (`tz`, else theirs, else UTC)."""
    tz_name = query["tz"] or (current_user.timezone if current_user.is_authenticated else "UTC")
    if query["tz"] and zone(query["tz"]).key != query["tz"]:
        raise BookingError(400, "Unknown time zone.", "tz")
    mentor = service.get_mentor(mentor_id)
    now = service.now_utc()
    start, end = slot_range(query["start"], query["days"], tz_name, now)
    found = service.mentor_free_slots(mentor, now, start, end)
    return {
        "mentor_id": mentor_id,
        "timezone": tz_name,
        "mentor_timezone": mentor.timezone,
        "session_minutes": mentor.session_minutes,
        "slots": [{"starts_at": iso_utc(s.start), "ends_at": iso_utc(s.end),
                   "local_starts_at": local(s.start, tz_name).isoformat(),
                   "local_ends_at": local(s.end, tz_name).isoformat(),
                   "display": format_when(s.start, s.end, tz_name)} for s in found],
    }


# ---------------------------------------------------------------- bookings


@api_bp.post("/api/v1/bookings")
@verified_required
@api_bp.input(BookingIn, arg_name="data")
def create_booking(data: dict):
    """Request a slot with a note; 201, or 409 when it is taken, 422 naming the field when not offered."""
    learner = _viewer()
    booking = service.request_booking(learner, data["mentor_id"], data["starts_at"], data["note"], data["topic_id"])
    return booking_json(booking, learner), 201


@api_bp.get("/api/v1/bookings")
@auth_required
@api_bp.input(ListQuery, location="query", arg_name="query")
def list_bookings(query: dict):
    user = _viewer()
    found = service.bookings_of(user, query["as_"], query["when"], service.now_utc())
    return {"bookings": [booking_json(b, user) for b in found], "timezone": user.timezone}


def _visible(booking_id: int, user: User) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None or user.id not in (booking.mentor_id, booking.learner_id):
        raise BookingError(404, "There is no booking with that id.", "booking_id")
    return booking


@api_bp.get("/api/v1/bookings/<int:booking_id>")
@auth_required
def get_booking(booking_id: int):
    user = _viewer()
    return booking_json(_visible(booking_id, user), user)


@api_bp.post("/api/v1/bookings/<int:booking_id>/<any(accept, reject, cancel, complete, 'no-show'):action>")
@auth_required
@api_bp.input(ReasonIn, arg_name="data")
def act(booking_id: int, action: str, data: dict):
    """accept | reject (reason required) | cancel | complete | no-show."""
    user = _viewer()
    return booking_json(service.act(action, booking_id, user, data["reason"]), user)


@api_bp.post("/api/v1/bookings/<int:booking_id>/reschedule")
@auth_required
@api_bp.input(RescheduleIn, arg_name="data")
def reschedule(booking_id: int, data: dict):
    user = _viewer()
    booking = service.reschedule(booking_id, user, data["starts_at"], data["reason"])
    return booking_json(booking, user)


@api_bp.get("/api/v1/bookings/<int:booking_id>/cancellation-terms")
@auth_required
def cancellation_terms(booking_id: int):
    """What cancelling now would mean for the learner's money (the policy payments applies)."""
    user = _viewer()
    terms = service.preview_cancellation(booking_id, user)
    return {"refund_percent": terms.refund_percent, "late": terms.late, "explanation": terms.explanation}


# ---------------------------------------------------------------- notices, calendar, policy


@api_bp.get("/api/v1/bookings/notifications")
@auth_required
def notifications():
    user = _viewer()
    rows = db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                              .order_by(Notification.id.desc()).limit(50))
    return {"notifications": [{"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
                               "booking_id": n.booking_id, "created_at": iso_utc(n.created_at),
                               "read": n.read_at is not None} for n in rows]}


@api_bp.get("/api/v1/bookings/calendar")
@auth_required
def calendar_status():
    user = _viewer()
    connection = calendar_sync.connection_of(user.id, connected_only=False)
    return {
        "google": None if connection is None else {"status": connection.status, "reason": connection.status_reason},
        "feed_url": ical.feed_url(ical.feed_token(user.id)),
    }


@api_bp.post("/api/v1/bookings/calendar/feed-token")
@auth_required
def rotate_feed():
    """A new private feed URL; the old one stops working."""
    user = _viewer()
    return {"feed_url": ical.feed_url(ical.feed_token(user.id, rotate=True))}


@api_bp.get("/api/v1/bookings/policy")
@auth_required
def get_policy():
    user = _viewer()
    mentor = service.get_mentor(user.id, bookable=False)
    policy = policy_for(mentor)
    return {"session_minutes": policy.session_minutes, "buffer_minutes": policy.buffer_minutes,
            "min_notice_minutes": policy.min_notice_minutes, "horizon_days": policy.horizon_days,
            "slot_step_minutes": policy.slot_step_minutes}


@api_bp.put("/api/v1/bookings/policy")
@auth_required
@api_bp.input(PolicyIn, arg_name="data")
def put_policy(data: dict):
    """A mentor's own buffer, notice, horizon and slot step (null: the platform default)."""
    service.set_own_policy(current_user.id, data)
    return get_policy()


@api_bp.after_request
def _no_store(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return response
