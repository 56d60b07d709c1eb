"""Each admin report as one JSON-able dict, for its page (and charts) and its /api/v1/admin endpoint."""
from __future__ import annotations

from api.admin import data
from api.admin.data import Filters


def _records(frame) -> list[dict]:
    import numpy as np

    return frame.replace({np.nan: None}).to_dict("records") if len(frame) else []


def _one_second():
    from datetime import timedelta

    return timedelta(seconds=1)


def analytics(filters: Filters) -> dict:
    from dashboards.cohorts import retention_cohorts
    from dashboards.funnel import funnel
    from dashboards.platform import chat_activity, signups_by_role, verification_rate

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
                    "rows": retention_cohorts(users, activity, cohort_period, 8, until=filters.until - _one_second())},
        "chat": _records(chat_activity(data.message_rows(filters), filters.period)),
    }


def revenue(filters: Filters) -> dict:
    from dashboards.revenue import revenue_by_period, revenue_by_topic, revenue_totals

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
    import csv
    import io

    from dashboards.revenue import decimal_string, revenue_by_period, revenue_totals

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


EMPTY_RATES = {"requests": 0, "finished": 0, "completed": 0, "cancelled": 0, "cancelled_by_mentor": 0, "no_show": 0,
               "rejected": 0, "expired": 0, "completion_rate": None, "cancellation_rate": None,
               "no_show_rate": None, "response_hours": None}


def mentor_performance(filters: Filters, mentor_id: int | None = None) -> list[dict]:
    """Per mentor: booking rates, response time, rating, earnings per currency."""
    import sqlalchemy as sa

    from api.extensions import db
    from api.tables import MentorProfile, User
    from dashboards.mentors import booking_rates, earnings

    rates = {r["mentor_id"]: r for r in _records(booking_rates(data.mentor_booking_rows(filters, mentor_id)))}
    money: dict[int, list] = {}
    for r in _records(earnings(data.mentor_payment_rows(filters, mentor_id))):
        money.setdefault(int(r["mentor_id"]), []).append(r)
    statement = sa.select(MentorProfile, User.full_name, User.email).join(User, User.id == MentorProfile.user_id)
    if mentor_id is not None:
        statement = statement.where(MentorProfile.user_id == mentor_id)
    rows = []
    for profile, name, email in db.session.execute(statement.order_by(User.full_name)).all():
        rows.append({
            "mentor_id": profile.user_id, "full_name": name, "email": email, "status": profile.status.value,
            "status_reason": profile.status_reason,
            "rating": (profile.rating_sum / profile.rating_count) if profile.rating_count else None,
            "rating_count": profile.rating_count,
            **{k: v for k, v in rates.get(profile.user_id, EMPTY_RATES).items() if k != "mentor_id"},
            "earnings": money.get(profile.user_id, []),
        })
    return rows
