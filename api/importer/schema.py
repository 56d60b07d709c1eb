"""The import files: one table a file, its columns, their types and whether they are required.

README.md ("Importing a platform's data") documents the same schema; tests/api/importer checks the two agree.
"""
from __future__ import annotations

from dataclasses import dataclass

LIST_SEPARATOR = ";"  # a list in a CSV cell: "python;data-science" (Parquet may also give a list column)
FILE_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | integer | list | datetime | bool
    required: bool = False


def _columns(*specs: str) -> tuple[Column, ...]:
    """"email:text!" -> a required text column; without "!" it is optional."""
    columns = []
    for spec in specs:
        name, kind = spec.rstrip("!").split(":")
        columns.append(Column(name, kind, spec.endswith("!")))
    return tuple(columns)


# In the order they are read and written: each table refers only to the ones before it (or to rows already
# in the database).
TABLES: dict[str, tuple[Column, ...]] = {
    "topics": _columns("slug:text!", "name:text!", "category:text!"),
    "users": _columns("email:text!", "full_name:text!", "roles:list!", "phone:text", "timezone:text",
                      "currency:text", "password_hash:text", "email_verified_at:datetime", "created_at:datetime",
                      "interests:text", "topics:list"),
    "mentors": _columns("email:text!", "headline:text!", "topics:list!", "price_minor:integer!", "currency:text!",
                        "availability:list!", "bio:text", "years_experience:integer", "languages:list",
                        "session_minutes:integer", "past_roles:list", "status:text", "created_at:datetime"),
    "bookings": _columns("external_id:text!", "learner_email:text!", "mentor_email:text!", "starts_at:datetime!",
                         "status:text!", "ends_at:datetime", "topic:text", "price_minor:integer", "currency:text",
                         "requested_at:datetime", "responded_at:datetime", "outcome_at:datetime", "note:text",
                         "status_reason:text"),
    "payments": _columns("external_id:text!", "booking_external_id:text!", "amount_minor:integer!", "currency:text!",
                         "status:text!", "refunded_minor:integer", "gateway:text", "paid_at:datetime",
                         "refunded_at:datetime", "platform_fee_minor:integer"),
    "reviews": _columns("external_id:text!", "booking_external_id:text!", "rating:integer!", "text:text",
                        "created_at:datetime"),
}

# Statuses of imported bookings: past bookings only, in a final state (nothing for the jobs left to do).
BOOKING_STATUSES = ("completed", "no_show", "cancelled_by_learner", "cancelled_by_mentor", "rejected", "expired")
TIME_HOLDING_STATUSES = ("completed", "no_show")  # a mentor or learner cannot have two of these at once
PAYMENT_STATUSES = ("captured", "partially_refunded", "refunded", "failed")
PAYMENT_GATEWAYS = ("sandbox", "stripe", "razorpay")
MENTOR_STATUSES = ("approved", "pending")
IMPORTED_ROLES = ("learner", "mentor")
