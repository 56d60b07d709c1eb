"""Reviews and ratings: every rule is checked here, and every rating change updates the mentor's aggregate.

A learner rates a completed booking once (1-5, optional text), may edit it for `review_edit_days`;
the mentor replies once; anyone logged in may report a review once; admins hide (and unhide) it.
Hidden reviews leave the public list and the mentor's rating aggregate. Mentors rate learners
privately, once per completed booking. Each rating change is a `rating` event for the ML pipeline.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from api.activity import log_event
from api.errors import RefusedError
from api.extensions import db
from api.settings import current_settings
from api.tables import (
    Booking,
    BookingStatus,
    EventType,
    LearnerRating,
    MentorProfile,
    Review,
    ReviewReport,
    Role,
    User,
    utcnow,
)


class ReviewError(RefusedError):
    """A refused review action (status, message, field: `RefusedError`)."""


def _check_rating(rating) -> int:
    try:
        value = int(rating)
    except (TypeError, ValueError):
        raise ReviewError(400, "Choose a rating from 1 to 5 stars.", "rating") from None
    if isinstance(rating, float) and rating != value or not 1 <= value <= 5:
        raise ReviewError(400, "Choose a rating from 1 to 5 stars.", "rating")
    return value


def _check_text(text, field: str = "text", required: bool = False) -> str:
    text = (text or "").strip() if isinstance(text, str) or text is None else None
    if text is None:
        raise ReviewError(400, "Must be text.", field)
    limit = current_settings().review_text_max_chars
    if len(text) > limit:
        raise ReviewError(400, f"Keep it under {limit} characters.", field)
    if required and not text:
        raise ReviewError(400, "Write something first.", field)
    return text


def _adjust_aggregate(mentor_id: int, count_delta: int, sum_delta: int) -> None:
    """Atomic in the database: concurrent reviews never lose an update."""
    db.session.execute(sa.update(MentorProfile).where(MentorProfile.user_id == mentor_id).values(
        rating_count=MentorProfile.rating_count + count_delta, rating_sum=MentorProfile.rating_sum + sum_delta))


def _booking(booking_id: int) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise ReviewError(404, "No such booking.")
    return booking


def review_of_booking(booking_id: int) -> Review | None:
    return db.session.scalar(sa.select(Review).where(Review.booking_id == booking_id))


def create_review(booking_id: int, user: User, rating, text: str = "", now: datetime | None = None) -> Review:
    """The booking's learner rates a completed session, once."""
    booking = _booking(booking_id)
    if booking.learner_id != user.id:
        raise ReviewError(403, "Only the learner of this session can review it.")
    if booking.status != BookingStatus.COMPLETED:
        raise ReviewError(409, "You can review a session once it has been completed.")
    value = _check_rating(rating)
    text = _check_text(text)
    if review_of_booking(booking_id) is not None:
        raise ReviewError(409, "You have already reviewed this session; you can edit your review instead.")
    now = now or utcnow()
    review = Review(booking_id=booking.id, learner_id=user.id, mentor_id=booking.mentor_id, rating=value, text=text,
                    created_at=now, updated_at=now)
    db.session.add(review)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent submit of the same booking: the unique key says no
        db.session.rollback()
        raise ReviewError(409, "You have already reviewed this session; you can edit your review instead.") from None
    _adjust_aggregate(booking.mentor_id, 1, value)
    log_event(EventType.RATING, user_id=user.id, mentor_id=booking.mentor_id, booking_id=booking.id, occurred_at=now,
              kind="review", action="created", review_id=review.id, rating=value, has_text=bool(text))
    db.session.commit()
    return review


def edit_deadline(review: Review) -> datetime:
    return review.created_at + timedelta(days=current_settings().review_edit_days)


def can_edit(review: Review, user, now: datetime | None = None) -> bool:
    return bool(user and review.learner_id == user.id and (now or utcnow()) <= edit_deadline(review))


def edit_review(review_id: int, user: User, rating, text: str = "", now: datetime | None = None) -> Review:
    """The author changes rating and text within the edit window; the aggregate follows."""
    now = now or utcnow()
    review = db.session.get(Review, review_id)
    if review is None:
        raise ReviewError(404, "No such review.")
    if review.learner_id != user.id:
        raise ReviewError(403, "Only the author can edit this review.")
    if now > edit_deadline(review):
        raise ReviewError(409, f"Reviews can be edited for {current_settings().review_edit_days} days after they are written.")
    value = _check_rating(rating)
    text = _check_text(text)
    old = review.rating
    review.rating, review.text, review.updated_at = value, text, now
    if not review.hidden and value != old:
        _adjust_aggregate(review.mentor_id, 0, value - old)
    log_event(EventType.RATING, user_id=user.id, mentor_id=review.mentor_id, booking_id=review.booking_id,
              occurred_at=now, kind="review", action="edited", review_id=review.id, rating=value, previous_rating=old,
              has_text=bool(text))
    db.session.commit()
    return review


def reply(review_id: int, user: User, text: str, now: datetime | None = None) -> Review:
    """The reviewed mentor answers, once."""
    review = db.session.get(Review, review_id)
    if review is None:
        raise ReviewError(404, "No such review.")
    if review.mentor_id != user.id:
        raise ReviewError(403, "Only the reviewed mentor can reply.")
    text = _check_text(text, "reply", required=True)
    now = now or utcnow()
    # the condition in the UPDATE makes "once" hold under concurrent replies too
    done = db.session.execute(sa.update(Review).where(Review.id == review_id, Review.mentor_reply.is_(None))
                              .values(mentor_reply=text, replied_at=now, updated_at=Review.updated_at))
    if done.rowcount != 1:
        db.session.rollback()
        raise ReviewError(409, "You have already replied to this review.")
    db.session.commit()
    db.session.refresh(review)
    return review


def report(review_id: int, user: User, reason: str = "") -> Review:
    """Any logged-in user flags a review for the admins, once per review."""
    review = db.session.get(Review, review_id)
    if review is None:
        raise ReviewError(404, "No such review.")
    reason = _check_text(reason, "reason")[:500]
    db.session.add(ReviewReport(review_id=review_id, reporter_id=user.id, reason=reason))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ReviewError(409, "You have already reported this review; an admin will look at it.") from None
    db.session.execute(sa.update(Review).where(Review.id == review_id)
                       .values(reported_count=Review.reported_count + 1, updated_at=Review.updated_at))
    db.session.commit()
    db.session.refresh(review)
    return review


def set_hidden(review_id: int, admin: User, hidden: bool = True, now: datetime | None = None) -> Review:
    """An admin hides a review (out of the list and the aggregate) or shows it again."""
    if not admin.has_role(Role.ADMIN):
        raise ReviewError(403, "Only admins can hide reviews.")
    review = db.session.get(Review, review_id)
    if review is None:
        raise ReviewError(404, "No such review.")
    if review.hidden == hidden:
        return review
    now = now or utcnow()
    db.session.execute(sa.update(Review).where(Review.id == review_id).values(
        hidden=hidden, hidden_at=now if hidden else None, hidden_by=admin.id if hidden else None,
        updated_at=Review.updated_at))
    _adjust_aggregate(review.mentor_id, -1 if hidden else 1, -review.rating if hidden else review.rating)
    log_event(EventType.RATING, user_id=review.learner_id, mentor_id=review.mentor_id, booking_id=review.booking_id,
              occurred_at=now, kind="review", action="hidden" if hidden else "unhidden", review_id=review.id,
              rating=review.rating, admin_id=admin.id)
    db.session.commit()
    db.session.refresh(review)
    return review


def reported_reviews(limit: int = 100) -> list[Review]:
    """The moderation queue: visible reviews with reports, most reported first (for the admin panel)."""
    return list(db.session.scalars(
        sa.select(Review).where(Review.reported_count > 0, Review.hidden.is_(False))
        .order_by(Review.reported_count.desc(), Review.id).limit(limit)))


def rate_learner(booking_id: int, user: User, rating, note: str = "", now: datetime | None = None) -> LearnerRating:
    """The booking's mentor rates the learner privately after a completed session, once."""
    booking = _booking(booking_id)
    if booking.mentor_id != user.id:
        raise ReviewError(403, "Only the mentor of this session can rate the learner.")
    if booking.status != BookingStatus.COMPLETED:
        raise ReviewError(409, "You can rate the learner once the session has been completed.")
    value = _check_rating(rating)
    note = _check_text(note, "note")
    now = now or utcnow()
    rating_row = LearnerRating(booking_id=booking.id, learner_id=booking.learner_id, rating=value, note=note,
                               created_at=now)
    db.session.add(rating_row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ReviewError(409, "You have already rated this learner for this session.") from None
    log_event(EventType.RATING, user_id=booking.learner_id, mentor_id=booking.mentor_id, booking_id=booking.id,
              occurred_at=now, kind="learner_rating", action="created", rating=value)
    db.session.commit()
    return rating_row


def learner_rating_summary(learner_id: int) -> tuple[float | None, int]:
    """(average, count) of the private ratings mentors gave a learner (for learner-to-mentor criteria)."""
    average, count = db.session.execute(
        sa.select(sa.func.avg(LearnerRating.rating), sa.func.count(LearnerRating.id))
        .where(LearnerRating.learner_id == learner_id)).one()
    return (float(average) if average is not None else None), count


def review_json(review: Review, viewer=None, now: datetime | None = None) -> dict:
    return {
        "id": review.id, "booking_id": review.booking_id, "mentor_id": review.mentor_id, "rating": review.rating,
        "text": review.text, "mentor_reply": review.mentor_reply,
        "replied_at": review.replied_at.isoformat() if review.replied_at else None,
        "created_at": review.created_at.isoformat(), "updated_at": review.updated_at.isoformat(),
        "editable_until": edit_deadline(review).isoformat(),
        "editable": can_edit(review, viewer, now) if viewer is not None else False,
        "hidden": review.hidden, "reported_count": review.reported_count,
    }
