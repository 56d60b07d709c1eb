"""Writing a checked plan through the app's own tables, in the caller's transaction (the caller commits).

Rows go in through the ORM, so the session hooks and database triggers that keep search current see them:
the free-slot index (api.search.free_slots, rewritten before the commit for mentors with new weekly rules),
the full-text index and the ranking columns (triggers on mentor_profiles, bookings). Each imported booking,
rating and profile is also an event with its original time, as the pipelines read them.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models import clock
from api import money
from api.activity import log_event
from api.extensions import db
from api.importer.checking import IMPORT_SOURCE, Plan
from api.payments.config import platform_fee_basis_points
from api.reviews.service import _adjust_aggregate
from api.tables import (
    AvailabilityRule,
    Booking,
    BookingStatus,
    EventType,
    LearnerProfile,
    MentorProfile,
    MentorStatus,
    Payment,
    PaymentCheckout,
    PaymentStatus,
    Refund,
    Review,
    Role,
    Topic,
    User,
    UserRole,
)


def _source(row) -> dict:
    """The payload keys that say where an event's row came from."""
    return {"source": IMPORT_SOURCE, "file": row.file, "row": row.number}


class Writer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.now = clock.now()
        self.topics: dict[str, Topic] = {}
        self.user_ids: dict[str, int] = {}
        self.booking_ids: dict[str, int] = {}

    def write(self) -> dict[str, int]:
        """Add everything in the plan; returns the rows added per table."""
        for item in self.plan.topics:
            topic = Topic(slug=item["slug"], name=item["name"], category=item["category"])
            db.session.add(topic)
            self.topics[item["slug"]] = topic
        db.session.flush()
        self._users()
        self._mentors()
        self._bookings()
        self._payments()
        self._reviews()
        db.session.flush()
        return {name: len(getattr(self.plan, name)) for name in ("topics", "users", "mentors", "bookings", "payments",
                                                                  "reviews")}

    def _topic_list(self, slugs: list[str]) -> list[Topic]:
        missing = [s for s in slugs if s not in self.topics]
        if missing:
            for topic in db.session.scalars(sa.select(Topic).where(Topic.slug.in_(missing))):
                self.topics[topic.slug] = topic
        return [self.topics[s] for s in slugs]

    def _user_id(self, email: str) -> int:
        if email not in self.user_ids:
            self.user_ids[email] = db.session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == email))
        return self.user_ids[email]

    def _users(self) -> None:
        for item in self.plan.users:
            created = item["created_at"] or self.now
            if item["user_id"] is None:
                user = User(email=item["email"], full_name=item["full_name"], phone=item["phone"],
                            password_hash=item["password_hash"], timezone=item["timezone"], currency=item["currency"],
                            email_verified_at=item["email_verified_at"], created_at=created)
                user.roles = [UserRole(role=Role(role), granted_at=created) for role in item["roles"]]
                db.session.add(user)
                db.session.flush()
            else:
                user = db.session.get(User, item["user_id"])
                for role in item["roles"]:
                    if not user.has_role(Role(role)):
                        user.roles.append(UserRole(role=Role(role), granted_at=self.now))
            self.user_ids[item["email"]] = user.id
            if "learner" in item["roles"] and db.session.get(LearnerProfile, user.id) is None:
                profile = LearnerProfile(user_id=user.id, interests=item["interests"], preferred_slots=[],
                                         created_at=created, updated_at=created)
                profile.topics = self._topic_list(item["topics"])
                db.session.add(profile)
                log_event(EventType.PROFILE_UPDATE, user_id=user.id, occurred_at=created, role="learner",
                          changed=["imported"], topics=item["topics"], interests=item["interests"],
                          timezone=user.timezone, currency=user.currency, **_source(item["row"]))
        db.session.flush()

    def _mentors(self) -> None:
        for item in self.plan.mentors:
            user_id = self._user_id(item["email"])
            created = item["created_at"] or self.now
            approved = item["status"] == "approved"
            profile = MentorProfile(
                user_id=user_id, headline=item["headline"], bio=item["bio"], years_experience=item["years_experience"],
                past_roles=item["past_roles"], languages=item["languages"], price_minor=item["price_minor"],
                currency=item["currency"], session_minutes=item["session_minutes"], timezone=item["timezone"],
                status=MentorStatus.APPROVED if approved else MentorStatus.PENDING,
                reviewed_at=self.now if approved else None, created_at=created, updated_at=created)
            profile.topics = self._topic_list(item["topics"])
            profile.availability = [AvailabilityRule(weekday=d, start_time=s, end_time=e, timezone=item["timezone"])
                                    for d, s, e in item["windows"]]
            db.session.add(profile)
            log_event(EventType.PROFILE_UPDATE, user_id=user_id, mentor_id=user_id, occurred_at=created,
                      role="mentor", changed=["imported"], created=True, resubmitted=False, topics=item["topics"],
                      price_minor=item["price_minor"], currency=item["currency"],
                      years_experience=item["years_experience"], session_minutes=item["session_minutes"],
                      timezone=item["timezone"], status=profile.status.value, **_source(item["row"]))
        db.session.flush()

    def _bookings(self) -> None:
        topic_ids = dict(db.session.execute(sa.select(Topic.slug, Topic.id)).all())
        for item in self.plan.bookings:
            learner_id, mentor_id = self._user_id(item["learner_email"]), self._user_id(item["mentor_email"])
            status = BookingStatus(item["status"])
            booking = Booking(
                learner_id=learner_id, mentor_id=mentor_id, topic_id=topic_ids.get(item["topic"]),
                starts_at=item["starts_at"], ends_at=item["ends_at"], status=status, note=item["note"],
                status_reason=item["status_reason"], price_minor=item["price_minor"], currency=item["currency"],
                respond_by=None, created_at=item["requested_at"], updated_at=item["outcome_at"])
            db.session.add(booking)
            db.session.flush()
            item["booking_id"] = self.booking_ids[item["external_id"]] = booking.id
            source = _source(item["row"]) | {"external_id": item["external_id"]}
            log_event(EventType.BOOKING_REQUEST, user_id=learner_id, mentor_id=mentor_id, booking_id=booking.id,
                      occurred_at=item["requested_at"], starts_at=item["starts_at"].isoformat(),
                      minutes=int((item["ends_at"] - item["starts_at"]).total_seconds() // 60),
                      topic_id=booking.topic_id, has_note=bool(item["note"]), **source)
            outcomes = [(item["outcome_at"], status.value, "requested", _actor(status))]
            if status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW):
                outcomes = [(item["responded_at"], "accepted", "requested", "mentor"),
                            (item["outcome_at"], status.value, "accepted", _actor(status))]
            for when, outcome, from_status, actor in outcomes:
                log_event(EventType.BOOKING_OUTCOME, user_id=mentor_id if actor == "mentor" else
                          learner_id if actor == "learner" else None, mentor_id=mentor_id, booking_id=booking.id,
                          occurred_at=when, outcome=outcome, from_status=from_status, actor=actor,
                          reason=item["status_reason"] if outcome == status.value else None, refund_percent=None,
                          source=IMPORT_SOURCE, external_id=item["external_id"])

    def _booking(self, facts: dict) -> Booking:
        return db.session.get(Booking, facts["booking_id"])

    def _payments(self) -> None:
        basis_points = platform_fee_basis_points()
        for item in self.plan.payments:
            booking = self._booking(item["booking"])
            status = PaymentStatus(item["status"])
            captured = 0 if status == PaymentStatus.FAILED else item["amount_minor"]
            kept = captured - item["refunded_minor"]
            fee = item["platform_fee_minor"]
            if fee is None:
                fee = money.percent_of(kept, basis_points)
            paid_at: datetime = item["paid_at"]
            payment = Payment(booking_id=booking.id, gateway=item["gateway"], provider_ref=item["external_id"],
                              status=status, amount_minor=item["amount_minor"], captured_minor=captured,
                              platform_fee_minor=fee, currency=item["currency"], created_at=paid_at,
                              updated_at=item["refunded_at"] if item["refunded_minor"] else paid_at)
            db.session.add(payment)
            db.session.flush()
            ended = booking.status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW)
            db.session.add(PaymentCheckout(
                payment_id=payment.id, order_ref=item["external_id"], provider_status=status.value,
                list_price_minor=booking.price_minor, list_currency=booking.currency, fee_basis_points=basis_points,
                authorized_at=paid_at if captured else None, captured_at=paid_at if captured else None,
                settled_at=booking.ends_at if ended and captured else None, created_at=paid_at, updated_at=paid_at))
            if item["refunded_minor"]:
                db.session.add(Refund(payment_id=payment.id, amount_minor=item["refunded_minor"],
                                      currency=item["currency"], reason="Imported refund",
                                      idempotency_key=f"import-refund-{item['external_id']}"[:128],
                                      status="succeeded", created_at=item["refunded_at"]))

    def _reviews(self) -> None:
        for item in self.plan.reviews:
            booking = self._booking(item["booking"])
            created: datetime = item["created_at"]
            review = Review(booking_id=booking.id, learner_id=booking.learner_id, mentor_id=booking.mentor_id,
                            rating=item["rating"], text=item["text"], created_at=created, updated_at=created)
            db.session.add(review)
            db.session.flush()
            _adjust_aggregate(booking.mentor_id, 1, item["rating"])
            log_event(EventType.RATING, user_id=booking.learner_id, mentor_id=booking.mentor_id,
                      booking_id=booking.id, occurred_at=created, kind="review", action="created",
                      review_id=review.id, rating=item["rating"], has_text=bool(item["text"]),
                      **_source(item["row"]), external_id=item["external_id"])


def _actor(status: BookingStatus) -> str:
    return {BookingStatus.CANCELLED_BY_LEARNER: "learner", BookingStatus.REJECTED: "mentor",
            BookingStatus.CANCELLED_BY_MENTOR: "mentor", BookingStatus.NO_SHOW: "mentor"}.get(status, "system")
