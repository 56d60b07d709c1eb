"""The JSON API of reviews under /api/v1: rate a session, edit, reply, report, moderate, rate a learner."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import request
from flask_login import current_user

from api.auth.decorators import admin_required, auth_required
from api.errors import error_response
from api.reviews import service
from api.reviews.service import ReviewError
from api.tables import User

api_bp = APIBlueprint("reviews_api", __name__, url_prefix="/api/v1", tag="Reviews")


def _user() -> User:
    """The signed-in user (admitted by the view's guard) as the row the services take."""
    return current_user._get_current_object()


def _json_body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@api_bp.errorhandler(ReviewError)
def _review_error(error: ReviewError):
    return error_response(error.status, error.message, error.fields)


@api_bp.post("/bookings/<int:booking_id>/review")
@auth_required
def api_create(booking_id: int):
    """Rate a completed session 1-5 with an optional text (the booking's learner, once)."""
    body = _json_body()
    review = service.create_review(booking_id, _user(), body.get("rating"), body.get("text", ""))
    return service.review_json(review, _user()), 201


@api_bp.patch("/reviews/<int:review_id>")
@auth_required
def api_edit(review_id: int):
    """Change rating and text (the author, within the edit window)."""
    body = _json_body()
    review = service.edit_review(review_id, _user(), body.get("rating"), body.get("text", ""))
    return service.review_json(review, _user())


@api_bp.post("/reviews/<int:review_id>/reply")
@auth_required
def api_reply(review_id: int):
    """The reviewed mentor's one public reply."""
    review = service.reply(review_id, _user(), _json_body().get("text", ""))
    return service.review_json(review, _user())


@api_bp.post("/reviews/<int:review_id>/report")
@auth_required
def api_report(review_id: int):
    """Flag a review for the admins (once per user)."""
    service.report(review_id, _user(), _json_body().get("reason", ""))
    return {"reported": True}, 201


@api_bp.post("/admin/reviews/<int:review_id>/<any(hide, unhide):action>")
@admin_required
def api_hide(review_id: int, action: str):
    """Admins: hide a review (out of the list and the rating aggregate) or show it again."""
    review = service.set_hidden(review_id, _user(), action == "hide")
    return service.review_json(review)


@api_bp.get("/admin/reviews/reported")
@admin_required
def api_reported():
    """Admins: the moderation queue, most reported first."""
    return {"reviews": [service.review_json(r) for r in service.reported_reviews()]}


@api_bp.post("/bookings/<int:booking_id>/learner-rating")
@auth_required
def api_rate_learner(booking_id: int):
    """The mentor's private rating of the learner of a completed session (once)."""
    body = _json_body()
    row = service.rate_learner(booking_id, _user(), body.get("rating"), body.get("note", ""))
    return {"booking_id": row.booking_id, "learner_id": row.learner_id, "rating": row.rating}, 201
