"""Each admin report as one JSON-able dict, for its page (and charts) and its /api/v1/admin endpoint."""
from __future__ import annotations

import csv
import io
import statistics
from datetime import timedelta

import numpy as np
import sqlalchemy as sa

from api.admin import data
from api.admin.data import Filters
from api.extensions import db
from api.reviews.service import review_json
from api.tables import Review
from dashboards.cohorts import retention_cohorts
from dashboards.funnel import funnel
from dashboards.mentors import rating_over_time
from dashboards.platform import chat_activity, signups_by_role, verification_rate
from dashboards.revenue import decimal_string, revenue_by_period, revenue_by_topic, revenue_totals

ONE_SECOND = timedelta(seconds=1)


def _records(frame) -> list[dict]:
    return frame.replace({np.nan: None}).to_dict("records") if len(frame) else []


def analytics(filters: Filters) -> dict:
    signups = signups_by_role(data.signup_rows(filters), filters.period)
    users, activity = data.cohort_rows(filters)
    cohort_period = "month" if filters.period == "month" else "week"
    return {
        "filters": filters.args(),
        "signups": _records(signups),
        "signup_totals": {role: int(signups[role].sum()) if len(signups) else 0 for role in ("learner", "mentor", "admin")},
        "verification": verification_rate(data.verification_rows(filters)),
        "funnel": funnel(data.funnel_events(filters), data.funnel_bookings(filters)),
        "cohorts": {"period": cohort_period, "offsets": 8,
                    "rows": retention_cohorts(users, activity, cohort_period, 8, until=filters.until - ONE_SECOND)},
        "chat": _records(chat_activity(data.message_rows(filters), filters.period)),
    }


def revenue(filters: Filters) -> dict:
    lines, source = data.money_lines(filters)
    return {
        "filters": filters.args(),
        "source": source,  # "ledger" (the payments ledger) or "payments" (payments and refunds tables)
        "totals": _records(revenue_totals(lines)),
        "by_period": _records(revenue_by_period(lines, filters.period)),
        "by_topic": _records(revenue_by_topic(lines)),
    }


def revenue_csv(filters: Filters) -> str:
    """By period, currency and topic, amounts in major units with exact decimals, then the totals per currency."""
    lines, _source = data.money_lines(filters)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    money = ["gross_minor", "fee_minor", "earnings_minor", "refunds_minor", "net_minor"]
    writer.writerow(["period", "currency", "topic", "gross", "platform_fees", "mentor_earnings", "refunds", "net"])
    for row in _records(revenue_by_period(lines, filters.period, by_topic=True)):
        writer.writerow([row["period"], row["currency"], row["topic"],
                         *(decimal_string(row[m], row["currency"]) for m in money)])
    for row in _records(revenue_totals(lines)):
        writer.writerow([f"total {filters.start.isoformat()}..{filters.end.isoformat()}", row["currency"], "",
                         *(decimal_string(row[m], row["currency"]) for m in money)])
    return out.getvalue()


EMPTY_COUNTS = {"requests": 0, "finished": 0, "completed": 0, "cancelled": 0, "cancelled_by_mentor": 0, "no_show": 0,
                "rejected": 0, "expired": 0}
MENTORS_PER_PAGE = 50


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mentor_rows(filters: Filters, mentors: list, every_mentor: bool = False) -> list[dict]:
    """The report rows of these mentors: three grouped queries for all of them, whatever their number."""
    ids = None if every_mentor else [m.user_id for m in mentors]
    counts = data.mentor_booking_counts(filters, ids)
    hours = data.mentor_response_hours(filters, ids)
    money = data.mentor_earnings(filters, ids)
    rows = []
    for m in mentors:
        c = counts.get(m.user_id, EMPTY_COUNTS)
        answered = hours.get(m.user_id)
        rows.append({
            "mentor_id": m.user_id, "full_name": m.full_name, "email": m.email, "status": m.status.value,
            "status_reason": m.status_reason,
            "rating": (m.rating_sum / m.rating_count) if m.rating_count else None, "rating_count": m.rating_count,
            **c,
            "completion_rate": _rate(c["completed"], c["finished"]),
            "cancellation_rate": _rate(c["cancelled"], c["finished"]),
            "no_show_rate": _rate(c["no_show"], c["finished"]),
            "response_hours": float(statistics.median(answered)) if answered else None,
            "earnings": money.get(m.user_id, []),
        })
    return rows


def mentor_performance(filters: Filters, mentor_id: int | None = None) -> list[dict]:
    """Per mentor (every mentor, or one), by name: status, rating, booking rates, response time, earnings per currency."""
    if mentor_id is None:
        return _mentor_rows(filters, data.mentor_rows(), every_mentor=True)
    return _mentor_rows(filters, data.mentor_rows(mentor_ids=[mentor_id]))


def mentor_page(filters: Filters, status: str | None = None, page: int = 1,
                per_page: int = MENTORS_PER_PAGE) -> dict:
    """One page of mentors by name (of a status): rows as in `mentor_performance`, with the total and page count."""
    total = data.mentor_count(status)
    pages = max((total + per_page - 1) // per_page, 1)
    page = min(max(page, 1), pages)
    mentors = data.mentor_rows(status, limit=per_page, offset=(page - 1) * per_page)
    return {"rows": _mentor_rows(filters, mentors), "total": total, "page": page, "pages": pages,
            "per_page": per_page}


def mentor_detail(user_id: int, filters: Filters) -> dict | None:
    """One mentor's row of `mentor_performance` with their rating over time (monthly) and latest 20 reviews."""
    rows = mentor_performance(filters, user_id)
    if not rows:
        return None
    mentor = rows[0]
    mentor["rating_over_time"] = _records(rating_over_time(data.mentor_review_rows(user_id), "month"))
    reviews = db.session.scalars(sa.select(Review).where(Review.mentor_id == user_id)
                                 .order_by(Review.created_at.desc()).limit(20))
    mentor["reviews"] = [{**review_json(r), "hidden": r.hidden, "reported_count": r.reported_count} for r in reviews]
    return mentor
