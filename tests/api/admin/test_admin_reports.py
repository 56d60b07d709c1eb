"""The admin reports over a hand-built database: revenue to the cent (and CSV), funnel counts, cohort sizes,
mentor performance; model settings and "retrain now"; monitoring's drift banner; moderation."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc
DAY1 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
RANGE = "start=2026-03-01&end=2026-03-31"


@pytest.fixture
def world(app, make_user):
    """Two topics, a mentor teaching Python, three learners; bookings, payments, refunds and events in March 2026."""
    from api.activity import log_event
    from api.extensions import db
    from api.tables import (Booking, BookingStatus, EventType, MentorProfile, MentorStatus, Payment,
                            PaymentStatus, Refund, Review, Topic, User, mentor_topics)

    mentor = make_user("mara@example.com", roles=("mentor",), full_name="Mara Mentor")
    learners = [make_user(f"l{i}@example.com", roles=("learner",), full_name=f"Learner {i}") for i in range(3)]
    with app.app_context():
        for user, day in zip([mentor, *learners], (0, 0, 1, 8)):
            db.session.get(User, user.id).created_at = DAY1 + timedelta(days=day)
        python, design = Topic(slug="python", name="Python", category="Tech"), Topic(slug="design", name="Design", category="Art")
        db.session.add_all([python, design])
        db.session.flush()
        db.session.add(MentorProfile(user_id=mentor.id, price_minor=5000, currency="USD", status=MentorStatus.APPROVED))
        db.session.flush()
        db.session.execute(mentor_topics.insert().values(mentor_id=mentor.id, topic_id=python.id))
        specs = [  # learner, topic, status, price, captured, fee, refunds
            (0, python, BookingStatus.COMPLETED, 4999, 4999, 750, []),
            (1, python, BookingStatus.COMPLETED, 5001, 5001, 750, [2500]),
            (2, design, BookingStatus.CANCELLED_BY_LEARNER, 3333, 3333, 500, [3333]),
            (0, python, BookingStatus.REJECTED, 5000, 0, 0, []),
            (1, python, BookingStatus.NO_SHOW, 5000, 5000, 750, []),
        ]
        bookings = []
        for i, (li, topic, status, price, captured, fee, refunds) in enumerate(specs):
            at = DAY1 + timedelta(days=i, hours=1)
            booking = Booking(learner_id=learners[li].id, mentor_id=mentor.id, topic_id=topic.id, status=status,
                              starts_at=at + timedelta(days=3), ends_at=at + timedelta(days=3, hours=1),
                              price_minor=price, currency="USD", created_at=at)
            db.session.add(booking)
            db.session.flush()
            bookings.append(booking)
            log_event(EventType.BOOKING_REQUEST, user_id=learners[li].id, mentor_id=mentor.id, booking_id=booking.id,
                      occurred_at=at)
            if status != BookingStatus.REJECTED:
                log_event(EventType.BOOKING_OUTCOME, user_id=mentor.id, mentor_id=mentor.id, booking_id=booking.id,
                          occurred_at=at + timedelta(hours=2 * (i + 1)), outcome="accepted", from_status="requested")
            else:
                log_event(EventType.BOOKING_OUTCOME, user_id=mentor.id, mentor_id=mentor.id, booking_id=booking.id,
                          occurred_at=at + timedelta(hours=8), outcome="rejected", from_status="requested")
            if captured:
                payment = Payment(booking_id=booking.id, gateway="sandbox", status=PaymentStatus.CAPTURED,
                                  amount_minor=price, captured_minor=captured, platform_fee_minor=fee,
                                  currency="USD", created_at=at)
                db.session.add(payment)
                db.session.flush()
                for j, amount in enumerate(refunds):
                    db.session.add(Refund(payment_id=payment.id, amount_minor=amount, currency="USD", reason="test",
                                          idempotency_key=f"r{payment.id}-{j}", status="succeeded",
                                          created_at=at + timedelta(days=1)))
        db.session.add(Review(booking_id=bookings[0].id, learner_id=learners[0].id, mentor_id=mentor.id, rating=5,
                              created_at=DAY1 + timedelta(days=5)))
        for k in range(7):  # 7 searches (3 for python), 4 profile views, activity for the cohorts
            log_event(EventType.SEARCH, user_id=learners[k % 3].id, occurred_at=DAY1 + timedelta(days=k % 2),
                      topics=["python"] if k < 3 else [], q="")
        for k in range(4):
            log_event(EventType.PROFILE_VIEW, user_id=learners[2].id, mentor_id=mentor.id,
                      occurred_at=DAY1 + timedelta(days=8 + 7 * (k % 2)))
        log_event(EventType.SEARCH, user_id=learners[0].id, occurred_at=datetime(2026, 4, 2, tzinfo=UTC))  # outside
        db.session.commit()
    return {"mentor": mentor, "learners": learners}


@pytest.mark.db
def test_revenue_totals_by_day_and_csv_to_the_cent(admin, world):
    report = admin.get(f"/api/v1/admin/revenue?{RANGE}&period=day").get_json()
    assert report["source"] == "payments"
    assert report["totals"] == [{"currency": "USD", "gross_minor": 18333, "fee_minor": 2750, "earnings_minor": 15583,
                                 "refunds_minor": 5833, "net_minor": 12500}]
    by_day = {r["period"]: r for r in report["by_period"]}
    assert by_day["2026-03-03"]["gross_minor"] == 5001 and by_day["2026-03-04"]["refunds_minor"] == 2500
    assert sum(r["gross_minor"] for r in report["by_period"]) == 18333
    by_topic = {r["topic"]: r for r in report["by_topic"]}
    assert by_topic["Design"]["refunds_minor"] == 3333 and by_topic["Python"]["gross_minor"] == 15000
    python = admin.get(f"/api/v1/admin/revenue?{RANGE}&topic=python").get_json()
    assert python["totals"][0]["gross_minor"] == 15000
    csv = admin.get(f"/admin/revenue.csv?{RANGE}&period=month")
    assert csv.mimetype == "text/csv" and "attachment" in csv.headers["Content-Disposition"]
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0] == "period,currency,topic,gross,platform_fees,mentor_earnings,refunds,net"
    assert "2026-03-01,USD,Python,150.00,22.50,127.50,25.00,125.00" in lines
    assert lines[-1] == "total 2026-03-01..2026-03-31,USD,,183.33,27.50,155.83,58.33,125.00"
    page = admin.get(f"/admin/revenue?{RANGE}").get_data(as_text=True)
    assert "183.33 USD" in page and "58.33 USD" in page


@pytest.mark.db
def test_revenue_reconciles_with_the_payments_ledger(app, admin, world):
    """Once the ledger has entries, the report reads it, and totals equal the ledger's sums to the cent."""
    import sqlalchemy as sa

    ledger = pytest.importorskip("api.payments.ledger")
    from api.extensions import db
    from api.tables import LedgerEntry, Payment

    with app.app_context():
        payment = db.session.scalars(sa.select(Payment).order_by(Payment.id)).first()
        ledger.book_capture(payment, 4999, 750, "cap-test", DAY1)
        ledger.book_refund(payment, 1000, 600, "ref-test", DAY1 + timedelta(days=1))
        db.session.commit()
        sums = dict(db.session.execute(sa.select(LedgerEntry.account, sa.func.sum(LedgerEntry.amount_minor))
                                       .group_by(LedgerEntry.account)).all())
    report = admin.get(f"/api/v1/admin/revenue?{RANGE}").get_json()
    assert report["source"] == "ledger"
    total = report["totals"][0]
    assert (total["gross_minor"], total["fee_minor"], total["refunds_minor"]) == \
        (sums["learner_payments"], sums["platform_fees"], sums["refunds"]) == (4999, 600, 1000)
    assert total["earnings_minor"] == sums["mentor_pending"] == 4999 - 600 - 1000


@pytest.mark.db
def test_funnel_signups_and_cohorts(admin, world):
    report = admin.get(f"/api/v1/admin/analytics?{RANGE}&period=week").get_json()
    counts = {s["stage"]: s["count"] for s in report["funnel"]}
    assert counts == {"search": 7, "profile_view": 4, "booking_request": 5, "accepted": 4, "completed": 2,
                      "reviewed": 1}
    python = admin.get(f"/api/v1/admin/analytics?{RANGE}&topic=python").get_json()
    assert {s["stage"]: s["count"] for s in python["funnel"]}["search"] == 3
    assert {s["stage"]: s["count"] for s in python["funnel"]}["booking_request"] == 4
    assert report["signup_totals"] == {"learner": 3, "mentor": 1, "admin": 0}
    cohorts = {c["cohort"]: c for c in report["cohorts"]["rows"]}
    assert {k: c["size"] for k, c in cohorts.items()} == {"2026-03-02": 3, "2026-03-09": 1}
    # week of 2 March: the mentor (answering requests) and learners 0 and 1 (searching, booking); none the week after.
    # Week of 9 March: learner 2 viewed profiles then (10 March) and the week after (17 March); its earlier
    # searches, before signing up, do not count.
    assert cohorts["2026-03-02"]["active"][:2] == [3, 0]
    assert cohorts["2026-03-09"]["active"][:2] == [1, 1]
    assert report["verification"]["rate"] == 1.0
    page = admin.get(f"/admin/analytics?{RANGE}").get_data(as_text=True)
    assert 'data-chart="funnel"' in page and "js/vendor/chart.umd.min.js" in page


@pytest.mark.db
def test_mentor_performance_and_suspension(admin, world, settings):
    mentor = world["mentor"]
    rows = admin.get(f"/api/v1/admin/mentors?{RANGE}").get_json()["mentors"]
    m = next(r for r in rows if r["mentor_id"] == mentor.id)
    assert (m["requests"], m["finished"], m["completed"], m["cancelled"], m["no_show"], m["rejected"]) == (5, 5, 2, 1, 1, 1)
    assert m["completion_rate"] == pytest.approx(0.4) and m["no_show_rate"] == pytest.approx(0.2)
    assert m["response_hours"] == pytest.approx(6.0)  # median of 2, 4, 6, 8, 10
    assert m["earnings"] == [{"mentor_id": mentor.id, "currency": "USD", "captured_minor": 18333, "fee_minor": 2750,
                              "refunds_minor": 5833, "earnings_minor": 15583}]
    detail = admin.get(f"/api/v1/admin/mentors/{mentor.id}").get_json()
    assert detail["rating_over_time"][0]["mean_rating"] == 5.0
    assert admin.post(f"/api/v1/admin/mentors/{mentor.id}/suspend", json={"reason": "Repeated no-shows"}).status_code == 200
    from tests.api.auth.accounts_helpers import outbox

    assert outbox(settings, "email", "mentor_review")[-1]["to"] == "mara@example.com"
    assert admin.client.get(f"/mentors/{mentor.id}").status_code == 200  # admins still see it
    from tests.api.auth.accounts_helpers import JsonClient

    assert JsonClient(admin.client.application.test_client()).get(f"/mentors/{mentor.id}").status_code == 404
    assert admin.post(f"/api/v1/admin/mentors/{mentor.id}/reinstate").json["status"] == "approved"


def test_model_settings_validate_store_and_audit(app, admin):
    bad = admin.put("/api/v1/admin/model-settings/ranking.hybrid_blend", json={"content": 0.9})
    assert bad.status_code == 400 and "add up to 1" in bad.get_json()["error"]["message"]
    assert admin.put("/api/v1/admin/model-settings/rerank_weights", json={"nope": 1}).status_code == 400
    assert admin.put("/api/v1/admin/model-settings/pipeline.retrain_schedule", json={"cron": "every day"}).status_code == 400
    ok = admin.put("/api/v1/admin/model-settings/ranking.hybrid_blend",
                   json={"content": 0.2, "collaborative": 0.6, "neural": 0.2})
    assert ok.get_json()["value"] == {"content": 0.2, "collaborative": 0.6, "neural": 0.2}
    weights = admin.put("/api/v1/admin/model-settings/rerank_weights", json={"diversity": 0.35}).get_json()["value"]
    from api.extensions import db
    from api.tables import ModelSetting

    with app.app_context():
        assert db.session.get(ModelSetting, "rerank_weights").value["diversity"] == 0.35  # what serving reads
    assert weights["diversity"] == 0.35
    entry = admin.get("/api/v1/admin/audit?action=model_settings").get_json()["entries"][0]
    assert entry["target_id"] == "rerank_weights" and entry["details"]["changed"]["diversity"]["to"] == 0.35


def test_retrain_now_starts_the_pipeline_in_the_background(app, admin, monkeypatch):
    import subprocess

    started = []

    class FakeProcess:
        pid = 424242

    def fake_popen(command, **kwargs):
        started.append((command, kwargs))
        return FakeProcess()

    monkeypatch.setattr(subprocess, "Popen", fake_popen)
    response = admin.post("/api/v1/admin/retrain")
    assert response.status_code == 202 and response.get_json()["pid"] == 424242
    command, kwargs = started[0]
    assert command[-2:] == ["pipeline", "all"]
    assert kwargs["start_new_session"] is True and kwargs["stdin"] == subprocess.DEVNULL
    assert admin.get("/api/v1/admin/audit?action=pipeline").get_json()["entries"][0]["details"]["pid"] == 424242


def _write_reports(var_dir, drifted: bool):
    folder = var_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = "20260305T030000123456Z"
    share = 0.75 if drifted else 0.0
    metrics = {"metrics": [
        {"config": {"type": "evidently:metric_v2:DriftedColumnsCount", "drift_share": 0.5}, "value": {"count": 3, "share": share}},
        {"config": {"type": "evidently:metric_v2:ValueDrift", "column": "price", "method": "K-S p_value", "threshold": 0.05},
         "value": 0.001 if drifted else 0.5}]}
    (folder / f"feature-drift-mentor_activity-{stamp}.json").write_text(json.dumps(metrics))
    (folder / f"feature-drift-mentor_activity-{stamp}.html").write_text("<html><body>Evidently report</body></html>")
    index = {"feature-drift-mentor_activity": {
        "kind": "feature-drift-mentor_activity", "created": stamp, "reference": "previous snapshot",
        "html": str(folder / f"feature-drift-mentor_activity-{stamp}.html"),
        "json": str(folder / f"feature-drift-mentor_activity-{stamp}.json")}}
    (folder / "index.json").write_text(json.dumps(index))


def test_monitoring_shows_reports_with_dates_and_a_drift_banner(admin, settings):
    assert "Drift detected" not in admin.get("/admin/monitoring").get_data(as_text=True)
    _write_reports(settings.var_dir, drifted=False)
    page = admin.get("/admin/monitoring").get_data(as_text=True)
    assert "No drift" in page and "05 Mar 2026, 03:00 UTC" in page and 'role="alert"' not in page
    _write_reports(settings.var_dir, drifted=True)
    data = admin.get("/api/v1/admin/monitoring").get_json()
    assert data["drift_detected"] is True and data["reports"][0]["drift"]["columns"] == ["price"]
    home = admin.get("/admin/").get_data(as_text=True)
    assert "Drift detected" in home and 'class="alert-banner"' in home
    report = admin.get(data["reports"][0]["url"])
    assert report.status_code == 200 and b"Evidently report" in report.data
    assert admin.get("/admin/monitoring/reports/..%2Findex.json").status_code == 404


@pytest.mark.db
def test_moderation_hides_reported_reviews(app, admin, world):
    import re

    from api.extensions import db
    from api.tables import Review

    with app.app_context():
        review = db.session.query(Review).first()
        review.reported_count = 2
        db.session.commit()
        review_id = review.id
    queue = admin.get("/api/v1/admin/moderation").get_json()
    assert [r["id"] for r in queue["reviews"]] == [review_id] and queue["messages"] == []
    page = admin.get("/admin/moderation").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = admin.client.post(f"/admin/moderation/reviews/{review_id}/hide", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Review, review_id).hidden is True
    assert admin.get("/api/v1/admin/audit?action=review").get_json()["entries"][0]["action"] == "review.hide"
