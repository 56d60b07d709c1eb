"""Review pages (forms with CSRF): write or edit a review, the reviews a mentor received, reply, report,
hide, and a mentor's private rating of a learner; the service checks every rule."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from api.auth.decorators import admin_required, auth_required
from api.errors import error_response
from api.extensions import db
from api.redirects import redirect_to_next
from api.reviews import service
from api.reviews.service import ReviewError
from api.search.query import short_name
from api.tables import Booking, LearnerRating, Review, User

bp = Blueprint("reviews", __name__)


def _user() -> User:
    """The signed-in user (admitted by the view's guard) as the row the services take."""
    return current_user._get_current_object()


def _page_error(error: ReviewError, template: str, status: int | None = None, **context):
    if error.status in (403, 404):
        return error_response(error.status, error.message)
    flash(error.message, "error")
    return render_template(template, errors=error.fields, **context), status or error.status


@bp.route("/bookings/<int:booking_id>/review", methods=["GET", "POST"])
@auth_required
def review_page(booking_id: int):
    """Write (or, within the edit window, change) the review of a completed session."""
    booking = db.session.get(Booking, booking_id)
    if booking is None or booking.learner_id != current_user.id:
        return error_response(404, "No such session.")
    mentor = db.session.get(User, booking.mentor_id)
    review = service.review_of_booking(booking_id)
    context = dict(booking=booking, mentor=mentor, review=review,
                   editable=review is None or service.can_edit(review, _user()),
                   deadline=service.edit_deadline(review) if review else None)
    if request.method == "POST":
        rating, text = request.form.get("rating"), request.form.get("text", "")
        try:
            if review is None:
                service.create_review(booking_id, _user(), rating, text)
                flash("Thank you, your review is published.", "success")
            else:
                service.edit_review(review.id, _user(), rating, text)
                flash("Your review is updated.", "success")
        except ReviewError as error:
            return _page_error(error, "reviews/form.html", form_rating=rating, form_text=text, **context)
        return redirect(url_for("search.preview_page", mentor_id=booking.mentor_id) + "#reviews")
    if booking.status.value != "completed":
        flash("You can review this session once it has been completed.", "info")
    return render_template("reviews/form.html", errors={}, form_rating=review.rating if review else None,
                           form_text=review.text if review else "", **context)


@bp.get("/reviews/received")
@auth_required
def received_page():
    """A mentor's reviews, with a reply form under each one not yet answered."""
    rows = db.session.execute(
        sa.select(Review, User.full_name).join(User, User.id == Review.learner_id)
        .where(Review.mentor_id == current_user.id).order_by(Review.created_at.desc()).limit(200)).all()
    rated = set(db.session.scalars(sa.select(LearnerRating.booking_id).join(Booking, Booking.id == LearnerRating.booking_id)
                                   .where(Booking.mentor_id == current_user.id)))
    reviews = [(review, short_name(name)) for review, name in rows]
    return render_template("reviews/received.html", reviews=reviews, rated=rated)


@bp.post("/reviews/<int:review_id>/reply")
@auth_required
def reply_page(review_id: int):
    try:
        service.reply(review_id, _user(), request.form.get("reply", ""))
        flash("Your reply is published.", "success")
    except ReviewError as error:
        if error.status in (403, 404):
            return error_response(error.status, error.message)
        flash(error.message, "error")
    return redirect(url_for("reviews.received_page") + f"#review-{review_id}")


@bp.post("/reviews/<int:review_id>/report")
@auth_required
def report_page(review_id: int):
    review = db.session.get(Review, review_id)
    if review is None or review.hidden:
        return error_response(404, "No such review.")
    try:
        service.report(review_id, _user(), request.form.get("reason", ""))
        flash("Thanks, an admin will look at this review.", "success")
    except ReviewError as error:
        flash(error.message, "error")
    return redirect(url_for("search.preview_page", mentor_id=review.mentor_id) + "#reviews")


@bp.post("/admin/reviews/<int:review_id>/<any(hide, unhide):action>")
@admin_required
def hide_page(review_id: int, action: str):
    try:
        service.set_hidden(review_id, _user(), action == "hide")
        flash("Review hidden." if action == "hide" else "Review visible again.", "success")
    except ReviewError as error:
        return error_response(error.status, error.message)
    return redirect_to_next(request.form.get("next"), url_for("core.landing"))


@bp.route("/bookings/<int:booking_id>/rate-learner", methods=["GET", "POST"])
@auth_required
def rate_learner_page(booking_id: int):
    """The mentor's private rating of the learner of a completed session."""
    booking = db.session.get(Booking, booking_id)
    if booking is None or booking.mentor_id != current_user.id:
        return error_response(404, "No such session.")
    learner = db.session.get(User, booking.learner_id)
    existing = db.session.scalar(sa.select(LearnerRating).where(LearnerRating.booking_id == booking_id))
    context = dict(booking=booking, learner=learner, existing=existing)
    if request.method == "POST":
        rating, note = request.form.get("rating"), request.form.get("note", "")
        try:
            service.rate_learner(booking_id, _user(), rating, note)
        except ReviewError as error:
            return _page_error(error, "reviews/rate_learner.html", form_rating=rating, form_note=note, **context)
        flash("Thanks, your private rating is saved.", "success")
        return redirect(url_for("reviews.received_page"))
    return render_template("reviews/rate_learner.html", errors={}, form_rating=None, form_note="", **context)
