"""The refund policy on every ending (sandbox gateway, the embedded default), double clicks, unpaid
requests, admin settings, and the sandbox's pages."""
from __future__ import annotations

import threading

import pytest

from tests.api.payments.conftest import NOW, checkout, later, request_booking, set_currency


def sandbox_paid(app, as_user, mentor, learner, books, card="4242 4242 4242 4242"):
    learner_client, mentor_client = as_user(learner), as_user(mentor)
    booking = request_booking(learner_client, mentor)
    started = checkout(learner_client, booking["id"])
    assert started["payment"]["gateway"] == "sandbox" and started["payment"]["sandbox"] is True
    response = learner_client.form(f"/payments/sandbox/{started['payment']['id']}/pay", {"card_number": card})
    assert response.status_code == 302
    return learner_client, mentor_client, booking["id"]


@pytest.fixture
def eur_learner(app, learner):
    set_currency(app, learner, "EUR")
    return learner


@pytest.mark.parametrize("who, hours, expected", [
    ("mentor-reject", 1, 5000), ("mentor-cancel", 1, 5000), ("learner-early", 0, 5000),
    ("learner-late", 10, 2500), ("learner-cancels-request", 1, 5000), ("no-show", 25, 0)])
def test_each_cancellation_rule(app, clock, mentor, eur_learner, as_user, books, who, hours, expected):
    learner_client, mentor_client, booking_id = sandbox_paid(app, as_user, mentor, eur_learner, books)
    assert books.payment(booking_id)["status"] == "authorized"
    if who not in ("mentor-reject", "learner-cancels-request"):
        assert mentor_client.post(f"/api/v1/bookings/{booking_id}/accept").status_code == 200
    clock.set(later(hours))
    action = {"mentor-reject": (mentor_client, "reject"), "mentor-cancel": (mentor_client, "cancel"),
              "learner-early": (learner_client, "cancel"), "learner-late": (learner_client, "cancel"),
              "learner-cancels-request": (learner_client, "cancel"), "no-show": (mentor_client, "no-show")}[who]
    response = action[0].post(f"/api/v1/bookings/{booking_id}/{action[1]}", json={"reason": "Sorry"})
    assert response.status_code == 200, response.json
    payment = books.payment(booking_id)
    if who in ("mentor-reject", "learner-cancels-request"):  # never captured: the hold is released
        assert payment["status"] == "released" and books.refunds(booking_id) == [] and payment["captured"] == 0
    elif expected == 0:
        assert payment["status"] == "captured" and books.refunds(booking_id) == []
        assert books.balances(mentor.id)["EUR"] == {"pending": 0, "available": 4250, "paid_out": 0}
    else:
        assert books.refunds(booking_id) == [(expected, "succeeded")]
        assert payment["status"] == ("refunded" if expected == 5000 else "partially_refunded")
        kept = 5000 - expected
        assert payment["fee"] == (kept * 15 + 50) // 100
        assert books.balances(mentor.id).get("EUR", {"available": 0})["available"] == kept - payment["fee"]


def test_cancelling_after_the_start_is_refused_and_refunds_nothing(app, clock, mentor, eur_learner, as_user, books):
    learner_client, mentor_client, booking_id = sandbox_paid(app, as_user, mentor, eur_learner, books)
    mentor_client.post(f"/api/v1/bookings/{booking_id}/accept")
    clock.set(later(24.5))
    assert learner_client.post(f"/api/v1/bookings/{booking_id}/cancel").status_code == 409
    assert books.refunds(booking_id) == [] and books.payment(booking_id)["status"] == "captured"


@pytest.mark.db
def test_double_clicked_cancel_refunds_once(app, clock, mentor, eur_learner, as_user, books, live_server):
    import requests

    from tests.api.bookings.conftest import USER_AGENT, session_cookie

    learner_client, mentor_client, booking_id = sandbox_paid(app, as_user, mentor, eur_learner, books)
    mentor_client.post(f"/api/v1/bookings/{booking_id}/accept")
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    http.cookies.set("session", session_cookie(app, eur_learner.id), domain="127.0.0.1")
    token = http.get(f"{live_server}/api/v1/csrf-token", timeout=10).json()["csrf_token"]
    barrier, codes = threading.Barrier(2), []

    def click():
        barrier.wait()
        codes.append(http.post(f"{live_server}/api/v1/bookings/{booking_id}/cancel", json={},
                               headers={"X-CSRFToken": token}, timeout=30).status_code)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 409]
    assert books.refunds(booking_id) == [(5000, "succeeded")]
    assert books.operations(booking_id) == [("capture", "succeeded"), ("refund", "succeeded")]


def test_declined_test_card_leaves_the_request_unpaid(app, clock, mentor, eur_learner, as_user, books):
    learner_client, mentor_client, booking_id = sandbox_paid(app, as_user, mentor, eur_learner, books,
                                                             card="4000 0000 0000 0002")
    assert books.payment(booking_id)["status"] == "created"
    assert mentor_client.post(f"/api/v1/bookings/{booking_id}/accept").status_code == 409


def test_unpaid_requests_are_cancelled_by_the_reconcile_job(app, clock, mentor, eur_learner, as_user, books):
    from api.payments.reconcile import reconcile

    learner_client = as_user(eur_learner)
    booking = request_booking(learner_client, mentor)
    checkout(learner_client, booking["id"])
    with app.app_context():
        assert reconcile(min_age_seconds=0, unpaid_minutes=0)["unpaid_cancelled"] == 1
    assert books.booking_status(booking["id"]) == "cancelled_by_learner"
    assert books.payment(booking["id"])["status"] == "released"


def test_reconcile_books_a_sandbox_charge_whose_booking_update_crashed(app, clock, mentor, eur_learner, as_user, books,
                                                                        monkeypatch):
    from api.payments import service
    from api.payments.reconcile import reconcile

    learner_client = as_user(eur_learner)
    booking = request_booking(learner_client, mentor)
    started = checkout(learner_client, booking["id"])

    def crash(payment_id):
        raise RuntimeError("crash after the charge")

    monkeypatch.setattr(service, "confirm_from_provider", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = learner_client.form(f"/payments/sandbox/{started['payment']['id']}/pay",
                                   {"card_number": "4242424242424242"})
    assert response.status_code == 500 and books.payment(booking["id"])["status"] == "created"
    monkeypatch.undo()
    with app.app_context():
        assert reconcile(min_age_seconds=0)["verified"] == 1
    assert books.payment(booking["id"])["status"] == "authorized"


def test_price_shown_in_the_learners_currency(app, clock, mentor, learner, as_user):
    learner_client = as_user(learner)  # USD
    booking = request_booking(learner_client, mentor)
    page = learner_client.get(f"/payments/bookings/{booking['id']}/pay")
    assert page.status_code == 200
    assert "$54.35" in page.text and "€50.00" in page.text and "Sandbox (test mode)" in page.text


def test_admin_sets_fee_and_refund_policy(app, clock, mentor, eur_learner, as_user, books):
    from tests.api.bookings.conftest import create_person

    admin = as_user(create_person(app, "root@example.com", roles=("admin",)))
    from tests.api.admin.admin_helpers import pass_second_factor

    pass_second_factor(admin.client)  # admins: the session passed TOTP
    assert as_user(eur_learner).put("/api/v1/payments/settings", {"platform_fee_percent": 1}).status_code == 403
    response = admin.put("/api/v1/payments/settings", {"platform_fee_percent": 20, "late_refund_percent": 30})
    assert response.status_code == 200, response.json
    assert response.json["platform_fee_percent"] == 20 and response.json["late_refund_percent"] == 30
    learner_client, mentor_client, booking_id = sandbox_paid(app, as_user, mentor, eur_learner, books)
    mentor_client.post(f"/api/v1/bookings/{booking_id}/accept")
    assert books.payment(booking_id)["fee"] == 1000
    clock.set(later(10))
    learner_client.post(f"/api/v1/bookings/{booking_id}/cancel")
    assert books.refunds(booking_id) == [(1500, "succeeded")]
    revenue = admin.get("/api/v1/payments/revenue").json["days"]
    assert revenue == [{"day": NOW.date().isoformat(), "currency": "EUR", "gross": 5000, "fee": 700,
                        "earnings": 2800, "refund": 1500}]
