"""Razorpay: Orders, capture and refunds through the real SDK against a local Razorpay-speaking server;
the checkout callback verified with verify_payment_signature against OUR stored order id, webhooks with
verify_webhook_signature and the webhook secret."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from tests.api.payments.conftest import (checkout, later, post_razorpay, razorpay_signature,
                                         request_booking, set_currency)


@pytest.fixture
def inr_learner(app, learner):
    set_currency(app, learner, "INR")
    return learner


def callback(client, booking_id, order_id, pay_id, signature):
    return client.post(f"/payments/bookings/{booking_id}/razorpay/callback",
                       json={"razorpay_order_id": order_id, "razorpay_payment_id": pay_id,
                             "razorpay_signature": signature})


@pytest.mark.db
def test_happy_path_request_pay_accept_capture_complete(app, clock, razorpay_fake, mentor, inr_learner, as_user, books):
    learner_client, mentor_client = as_user(inr_learner), as_user(mentor)
    booking = request_booking(learner_client, mentor)
    started = checkout(learner_client, booking["id"])
    # priced in the learner's currency: 50 EUR at 0.92 EUR and 83 INR per USD
    assert started["payment"]["gateway"] == "razorpay" and started["payment"]["currency"] == "INR"
    assert started["payment"]["amount_minor"] == 451087 and started["payment"]["display"] == "₹4,510.87"
    (order_id,) = razorpay_fake.orders
    assert started["client"] == {"key_id": "rzp_test_key", "order_id": order_id}
    pay_id, signature = razorpay_fake.learner_pays(order_id)
    verified = callback(learner_client.client, booking["id"], order_id, pay_id, signature)
    assert verified.status_code == 200 and verified.json["status"] == "authorized"

    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept").status_code == 200
    assert razorpay_fake.payments[pay_id]["status"] == "captured"
    payment = books.payment(booking["id"])
    assert payment["status"] == "captured" and payment["fee"] == 67663  # 15 %, half up

    # Razorpay's webhook about the capture, after ours: one effect
    body = razorpay_fake.event("payment.captured", "payment", razorpay_fake.payments[pay_id])
    response = post_razorpay(app, body, razorpay_signature(body), "evt_cap_1")
    assert response.status_code == 200 and response.json["result"] == "no change"
    clock.set(later(26))
    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/complete").json["status"] == "completed"
    assert books.balances(mentor.id) == {"INR": {"pending": 0, "available": 451087 - 67663, "paid_out": 0}}


def test_callback_is_checked_against_our_own_order_id(app, clock, razorpay_fake, mentor, inr_learner, as_user, books):
    learner_client = as_user(inr_learner)
    booking = request_booking(learner_client, mentor)
    checkout(learner_client, booking["id"])
    (order_id,) = razorpay_fake.orders
    # a genuine signature for a different (cheap) order the attacker paid
    other = razorpay_fake.orders.setdefault("order_cheap", {"id": "order_cheap", "amount": 100, "currency": "INR"})
    pay_id, signature = razorpay_fake.learner_pays(other["id"])
    forged = callback(learner_client.client, booking["id"], "order_cheap", pay_id, signature)
    assert forged.status_code == 400 and books.payment(booking["id"])["status"] == "created"
    tampered = hmac.new(b"not-the-secret", f"{order_id}|{pay_id}".encode(), hashlib.sha256).hexdigest()
    assert callback(learner_client.client, booking["id"], order_id, pay_id, tampered).status_code == 400
    assert books.payment(booking["id"])["status"] == "created"


def test_webhook_authorises_once_and_refuses_bad_signatures(app, clock, razorpay_fake, mentor, inr_learner, as_user,
                                                            books, outbox):
    learner_client = as_user(inr_learner)
    booking = request_booking(learner_client, mentor)
    checkout(learner_client, booking["id"])
    (order_id,) = razorpay_fake.orders
    pay_id, _ = razorpay_fake.learner_pays(order_id)
    body = razorpay_fake.event("payment.authorized", "payment", razorpay_fake.payments[pay_id])
    assert post_razorpay(app, body, None, "evt_1").status_code == 400  # unsigned
    assert post_razorpay(app, body, razorpay_signature(body, "wrong"), "evt_1").status_code == 400  # forged
    assert post_razorpay(app, body.replace('"', '"', 1) + " ", razorpay_signature(body), "evt_1").status_code == 400
    assert books.payment(booking["id"])["status"] == "created"
    first = post_razorpay(app, body, razorpay_signature(body), "evt_1")
    again = post_razorpay(app, body, razorpay_signature(body), "evt_1")
    assert (first.json["result"], again.json["result"]) == ("processed", "duplicate")
    # a replay under a new (unsigned) event-id header is the same event: deduplicated on the payload's own ids
    replayed = post_razorpay(app, body, razorpay_signature(body), "evt_forged_2")
    assert replayed.json["result"] == "duplicate"
    assert books.payment(booking["id"])["status"] == "authorized"
    assert len([m for m in outbox() if "New session request" in m["subject"]]) == 1


def test_late_learner_cancellation_refunds_half_with_the_idempotency_header(app, clock, razorpay_fake, mentor,
                                                                            inr_learner, as_user, books):
    learner_client, mentor_client = as_user(inr_learner), as_user(mentor)
    booking = request_booking(learner_client, mentor)
    checkout(learner_client, booking["id"])
    (order_id,) = razorpay_fake.orders
    pay_id, signature = razorpay_fake.learner_pays(order_id)
    callback(learner_client.client, booking["id"], order_id, pay_id, signature)
    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept").status_code == 200
    clock.set(later(10))  # 14 hours before the start
    assert learner_client.post(f"/api/v1/bookings/{booking['id']}/cancel").status_code == 200
    (refund,) = razorpay_fake.refunds.values()
    assert refund["amount"] == 225544  # 50 % of 451087, half up
    assert list(razorpay_fake.refund_keys) == [f"mh-booking-{booking['id']}-refund-cancelled_by_learner"]
    assert books.payment(booking["id"])["status"] == "partially_refunded"
    # Razorpay's refund.processed webhook for our own refund changes nothing
    body = razorpay_fake.event("refund.processed", "refund", refund)
    assert post_razorpay(app, body, razorpay_signature(body), "evt_rf").json["result"] == "no change"
    ledger = books.ledger(booking["id"])
    assert ledger["refunds"] == 225544 and ledger["platform_fees"] == 33831  # 15 % of what was kept
    assert ledger["mentor_available"] == 451087 - 225544 - 33831
