"""The report computations against hand-built frames: revenue to the cent, funnel counts, cohort sizes, mentor rates."""
from __future__ import annotations

import pandas as pd
import pytest

from dashboards.cohorts import retention_cohorts
from dashboards.funnel import funnel
from dashboards.mentors import booking_rates, earnings, rating_over_time
from dashboards.platform import chat_activity, signups_by_role, verification_rate
from dashboards.revenue import (
    decimal_string,
    format_minor,
    lines_from_payments,
    revenue_by_period,
    revenue_by_topic,
    revenue_totals,
)

T = pd.Timestamp


def _money():
    payments = pd.DataFrame([
        # at, currency, topic, captured, fee
        (T("2026-03-02 10:00", tz="UTC"), "USD", "Python", 4999, 750),   # Monday
        (T("2026-03-02 23:59", tz="UTC"), "USD", "Python", 1, 0),
        (T("2026-03-08 12:00", tz="UTC"), "USD", "Design", 10001, 1500),  # Sunday: same ISO week
        (T("2026-04-01 00:00", tz="UTC"), "USD", None, 333, 50),
        (T("2026-03-03 09:00", tz="UTC"), "EUR", "Python", 4550, 683),
        (T("2026-03-03 09:00", tz="UTC"), "JPY", "Python", 5000, 750),
    ], columns=["at", "currency", "topic", "captured_minor", "platform_fee_minor"])
    refunds = pd.DataFrame([
        (T("2026-03-09 08:00", tz="UTC"), "USD", "Design", 5000),
        (T("2026-03-04 08:00", tz="UTC"), "EUR", "Python", 4550),
    ], columns=["at", "currency", "topic", "amount_minor"])
    return lines_from_payments(payments, refunds)


def test_revenue_totals_to_the_cent_per_currency():
    totals = revenue_totals(_money()).set_index("currency")
    usd = totals.loc["USD"]
    assert (usd.gross_minor, usd.fee_minor, usd.earnings_minor, usd.refunds_minor, usd.net_minor) == \
        (15334, 2300, 13034, 5000, 10334)
    eur = totals.loc["EUR"]
    assert (eur.gross_minor, eur.fee_minor, eur.refunds_minor, eur.net_minor) == (4550, 683, 4550, 0)
    assert totals.loc["JPY"].gross_minor == 5000
    assert all(totals[c].dtype == "int64" for c in ("gross_minor", "fee_minor", "refunds_minor"))


def test_revenue_by_day_week_and_month():
    lines = _money()
    by_day = revenue_by_period(lines, "day")
    usd_day = by_day[by_day.currency == "USD"].set_index("period")
    assert usd_day.loc["2026-03-02"].gross_minor == 5000 and usd_day.loc["2026-03-09"].refunds_minor == 5000
    by_week = revenue_by_period(lines, "week")
    usd_week = by_week[by_week.currency == "USD"].set_index("period")
    assert usd_week.loc["2026-03-02"].gross_minor == 15001  # Monday 2 to Sunday 8 March
    assert usd_week.loc["2026-03-09"].refunds_minor == 5000
    by_month = revenue_by_period(lines, "month")
    usd_month = by_month[by_month.currency == "USD"].set_index("period")
    assert usd_month.loc["2026-03-01"].gross_minor == 15001 and usd_month.loc["2026-04-01"].gross_minor == 333
    # every breakdown adds up to the totals
    for table in (by_day, by_week, by_month, revenue_by_topic(lines)):
        assert table.groupby("currency")["gross_minor"].sum().to_dict() == {"EUR": 4550, "JPY": 5000, "USD": 15334}


def test_revenue_by_topic_names_missing_topics():
    by_topic = revenue_by_topic(_money())
    usd = by_topic[by_topic.currency == "USD"].set_index("topic")
    assert usd.loc["(no topic)"].gross_minor == 333 and usd.loc["Design"].refunds_minor == 5000


def test_no_payments_gives_empty_reports():
    lines = lines_from_payments(pd.DataFrame(columns=["at", "currency", "topic", "captured_minor", "platform_fee_minor"]),
                                pd.DataFrame(columns=["at", "currency", "topic", "amount_minor"]))
    assert revenue_totals(lines).empty and revenue_by_period(lines, "week").empty


def test_money_formatting_is_exact():
    assert format_minor(1533401, "USD") == "15,334.01 USD"
    assert format_minor(-5, "EUR") == "-0.05 EUR"
    assert format_minor(5000, "JPY") == "5,000 JPY"
    assert decimal_string(10, "USD") == "0.10" and decimal_string(123456789, "GBP") == "1234567.89"


def test_funnel_counts_and_conversion():
    events = pd.DataFrame({"event_type": ["search"] * 10 + ["profile_view"] * 6 + ["click"] * 3})
    bookings = pd.DataFrame([
        ("completed", True, True), ("completed", True, False), ("no_show", True, False),
        ("cancelled_by_learner", True, False),  # accepted, then cancelled: still counts as accepted
        ("rejected", False, False), ("requested", False, False),
    ], columns=["status", "was_accepted", "reviewed"])
    rows = {r["stage"]: r for r in funnel(events, bookings)}
    assert [rows[s]["count"] for s in ("search", "profile_view", "booking_request", "accepted", "completed",
                                       "reviewed")] == [10, 6, 6, 4, 2, 1]
    assert rows["profile_view"]["from_previous"] == pytest.approx(0.6)
    assert rows["reviewed"]["from_first"] == pytest.approx(0.1)
    assert rows["search"]["from_previous"] is None


def test_funnel_of_nothing_is_zeros():
    rows = funnel(pd.DataFrame({"event_type": []}), pd.DataFrame(columns=["status", "was_accepted", "reviewed"]))
    assert [r["count"] for r in rows] == [0] * 6 and rows[1]["from_first"] is None


def test_weekly_retention_cohorts():
    users = pd.DataFrame({"user_id": [1, 2, 3, 4], "signed_up_at": pd.to_datetime(
        ["2026-03-02", "2026-03-08", "2026-03-09", "2026-03-10"], utc=True)})
    activity = pd.DataFrame({"user_id": [1, 1, 1, 2, 3, 3, 9], "at": pd.to_datetime(
        ["2026-03-02", "2026-03-03", "2026-03-16", "2026-03-10", "2026-03-09", "2026-03-24", "2026-03-02"], utc=True)})
    rows = retention_cohorts(users, activity, "week", offsets=4)
    assert [(r["cohort"], r["size"]) for r in rows] == [("2026-03-02", 2), ("2026-03-09", 2)]
    assert rows[0]["active"] == [1, 1, 1, 0]  # user 1 in week 0 and 2; user 2 in week 1
    assert rows[1]["active"] == [1, 0, 1, 0]
    assert rows[0]["rates"][0] == pytest.approx(0.5)


def test_monthly_cohorts():
    users = pd.DataFrame({"user_id": [1, 2], "signed_up_at": pd.to_datetime(["2026-01-31", "2026-02-01"], utc=True)})
    activity = pd.DataFrame({"user_id": [1, 2], "at": pd.to_datetime(["2026-03-01", "2026-02-02"], utc=True)})
    rows = retention_cohorts(users, activity, "month", offsets=3)
    assert [(r["cohort"], r["size"], r["active"]) for r in rows] == [("2026-01", 1, [0, 0, 1]), ("2026-02", 1, [1, 0, 0])]


def test_signups_verification_and_chat():
    roles = pd.DataFrame({"user_id": [1, 2, 2, 3], "role": ["learner", "learner", "mentor", "mentor"],
                          "created_at": pd.to_datetime(["2026-03-01", "2026-03-01", "2026-03-01", "2026-03-02"], utc=True)})
    table = signups_by_role(roles, "day").set_index("period")
    assert table.loc["2026-03-01"].tolist() == [2, 1, 0] and table.loc["2026-03-02"].tolist() == [0, 1, 0]
    rate = verification_rate(pd.DataFrame({"email_verified": [True, True, False, True],
                                           "phone_verified": [True, False, False, True]}))
    assert rate == {"users": 4, "email_verified": 3, "verified": 2, "rate": 0.5}
    messages = pd.DataFrame({"created_at": pd.to_datetime(["2026-03-01", "2026-03-01", "2026-03-02"], utc=True),
                             "room_kind": ["direct", "public", "direct"], "sender_id": [1, 1, 2]})
    chat = chat_activity(messages, "day").set_index("period")
    assert chat.loc["2026-03-01"].tolist() == [1, 1, 2, 1]


def test_mentor_rates_response_time_and_earnings():
    t0 = T("2026-03-01 10:00", tz="UTC")
    bookings = pd.DataFrame([
        (7, "completed", t0, t0 + pd.Timedelta(hours=2)), (7, "completed", t0, t0 + pd.Timedelta(hours=4)),
        (7, "no_show", t0, t0 + pd.Timedelta(hours=6)), (7, "cancelled_by_mentor", t0, t0 + pd.Timedelta(hours=1)),
        (7, "requested", t0, pd.NaT), (8, "expired", t0, pd.NaT),
    ], columns=["mentor_id", "status", "created_at", "responded_at"])
    rates = booking_rates(bookings).set_index("mentor_id")
    m = rates.loc[7]
    assert (m.requests, m.finished, m.completed, m.cancelled, m.no_show) == (5, 4, 2, 1, 1)
    assert m.completion_rate == pytest.approx(0.5) and m.no_show_rate == pytest.approx(0.25)
    assert m.response_hours == pytest.approx(3.0)  # median of 1, 2, 4, 6
    assert rates.loc[8].response_hours is None or pd.isna(rates.loc[8].response_hours)
    money = earnings(pd.DataFrame({"mentor_id": [7, 7], "currency": ["USD", "USD"], "captured_minor": [5000, 2501],
                                   "platform_fee_minor": [750, 375], "refunded_minor": [0, 2501]}))
    assert money.iloc[0].to_dict() == {"mentor_id": 7, "currency": "USD", "captured_minor": 7501, "fee_minor": 1125,
                                       "refunds_minor": 2501, "earnings_minor": 6376}


def test_rating_over_time():
    reviews = pd.DataFrame({"created_at": pd.to_datetime(["2026-01-05", "2026-01-20", "2026-03-01"], utc=True),
                            "rating": [5, 3, 1]})
    table = rating_over_time(reviews, "month")
    assert table.period.tolist() == ["2026-01-01", "2026-03-01"]
    assert table.mean_rating.tolist() == [4.0, 1.0] and table.cumulative_mean.tolist() == [4.0, 3.0]


def test_cohort_periods_not_yet_over_are_none():
    users = pd.DataFrame({"user_id": [1], "signed_up_at": pd.to_datetime(["2026-03-02"], utc=True)})
    activity = pd.DataFrame({"user_id": [1], "at": pd.to_datetime(["2026-03-03"], utc=True)})
    rows = retention_cohorts(users, activity, "week", offsets=4, until=T("2026-03-10", tz="UTC"))
    assert rows[0]["active"] == [1, 0, None, None] and rows[0]["rates"][2] is None
