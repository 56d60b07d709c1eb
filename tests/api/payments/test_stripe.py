"""Stripe: PaymentIntents with manual capture through the real SDK against a local Stripe-speaking server;
webhooks verified by stripe.Webhook.construct_event on the raw body."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from tests.api.payments.conftest import (checkout, later, post_stripe, request_booking, set_currency,
                                         stripe_signature)


@pytest.fixture
def eur_learner(app, learner):
    set_currency(app, learner, "EUR")
    return learner


def paid_request(app, stripe_fake, as_user, mentor, learner):
    """Request, check out, the learner confirms the card, Stripe's webhook tells us: (learner, mentor, booking id, pi)."""
    learner_client, mentor_client = as_user(learner), as_user(mentor)
    booking = request_booking(learner_client, mentor)
    started = checkout(learner_client, booking["id"])
    pi = started["payment"]["id"] and stripe_fake.intents[list(stripe_fake.intents)[-1]]["id"]
    assert started["client"]["client_secret"].startswith(pi)
    payload = stripe_fake.event("payment_intent.amount_capturable_updated", stripe_fake.learner_pays(pi))
    response = post_stripe(app, payload, stripe_signature(payload))
    assert response.status_code == 200, response.json
    assert response.json["result"] == "processed"
    return learner_client, mentor_client, booking["id"], pi


@pytest.mark.db
def test_happy_path_request_pay_accept_capture_complete(app, clock, stripe_fake, mentor, eur_learner, as_user, books,
                                                        outbox):
    learner_client, mentor_client = as_user(eur_learner), as_user(mentor)
    booking = request_booking(learner_client, mentor)
    # not paid yet: the mentor is not told, and cannot accept
    assert not [m for m in outbox() if "New session request" in m["subject"]]
    refused = mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    assert refused.status_code == 409 and "payment" in refused.json["error"]["fields"]

    started = checkout(learner_client, booking["id"])
    assert started["payment"]["gateway"] == "stripe" and started["payment"]["status"] == "created"
    assert checkout(learner_client, booking["id"])["payment"]["id"] == started["payment"]["id"]  # double click
    (pi,) = stripe_fake.intents
    intent = stripe_fake.intents[pi]
    assert intent["capture_method"] == "manual" and intent["amount"] == 5000 and intent["currency"] == "eur"
    creates = [c for c in stripe_fake.calls if c[1] == "/v1/payment_intents"]
    assert len(creates) == 1 and creates[0][2] == f"mh-booking-{booking['id']}-create-1"

    payload = stripe_fake.event("payment_intent.amount_capturable_updated", stripe_fake.learner_pays(pi))
    assert post_stripe(app, payload, stripe_signature(payload)).status_code == 200
    assert books.payment(booking["id"])["status"] == "authorized"
    assert [m for m in outbox() if "New session request" in m["subject"]]  # told once paid

    accepted = mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept")
    assert accepted.status_code == 200, accepted.json
    assert stripe_fake.intents[pi]["status"] == "succeeded" and stripe_fake.intents[pi]["amount_received"] == 5000
    capture_calls = [c for c in stripe_fake.calls if c[1].endswith("/capture")]
    assert [c[2] for c in capture_calls] == [f"mh-booking-{booking['id']}-capture"]
    payment = books.payment(booking["id"])
    assert payment["status"] == "captured" and payment["captured"] == 5000 and payment["fee"] == 750
    assert books.balances(mentor.id) == {"EUR": {"pending": 4250, "available": 0, "paid_out": 0}}

    # Stripe's own news of the capture arrives after ours: no second effect
    late = stripe_fake.event("payment_intent.succeeded", stripe_fake.intents[pi])
    assert post_stripe(app, late, stripe_signature(late)).json["result"] == "no change"

    clock.set(later(26))  # after the session's end
    done = mentor_client.post(f"/api/v1/bookings/{booking['id']}/complete")
    assert done.status_code == 200 and done.json["status"] == "completed"
    assert books.balances(mentor.id) == {"EUR": {"pending": 0, "available": 4250, "paid_out": 0}}
    assert books.ledger(booking["id"]) == {"learner_payments": 5000, "platform_fees": 750, "mentor_available": 4250}
    receipt = learner_client.get(f"/payments/receipts/{payment['id']}")
    assert receipt.status_code == 200 and "€50.00" in receipt.text and "paid" in receipt.text
    earnings = mentor_client.get("/payments/earnings")
    assert earnings.status_code == 200 and "€42.50" in earnings.text


@pytest.mark.parametrize("case", ["forged", "reserialised", "stale", "unsigned", "wrong-secret"])
def test_bad_webhooks_are_refused_and_change_nothing(app, clock, stripe_fake, mentor, eur_learner, as_user, books,
                                                     case):
    learner_client = as_user(eur_learner)
    booking = request_booking(learner_client, mentor)
    checkout(learner_client, booking["id"])
    (pi,) = stripe_fake.intents
    payload = stripe_fake.event("payment_intent.amount_capturable_updated", stripe_fake.learner_pays(pi))
    signature = stripe_signature(payload)
    if case == "forged":
        body = json.loads(payload)
        body["data"]["object"]["amount"] = 1
        payload = json.dumps(body, indent=2).encode()
    elif case == "reserialised":  # same content, different bytes
        payload = json.dumps(json.loads(payload), separators=(",", ":")).encode()
    elif case == "stale":
        signature = stripe_signature(payload, timestamp=int(time.time()) - 301)
    elif case == "unsigned":
        signature = None
    elif case == "wrong-secret":
        signature = stripe_signature(payload, secret="whsec_attacker")
    response = post_stripe(app, payload, signature)
    assert response.status_code == 400
    assert books.payment(booking["id"])["status"] == "created"
    from api.extensions import db
    from api.tables import ProviderEvent

    with app.app_context():
        assert db.session.query(ProviderEvent).count() == 0


def test_same_webhook_twice_has_one_effect(app, clock, stripe_fake, mentor, eur_learner, as_user, books, outbox):
    learner_client = as_user(eur_learner)
    booking = request_booking(learner_client, mentor)
    checkout(learner_client, booking["id"])
    (pi,) = stripe_fake.intents
    payload = stripe_fake.event("payment_intent.amount_capturable_updated", stripe_fake.learner_pays(pi))
    first = post_stripe(app, payload, stripe_signature(payload))
    again = post_stripe(app, payload, stripe_signature(payload))
    assert first.json["result"] == "processed" and again.json["result"] == "duplicate"
    assert len([m for m in outbox() if "New session request" in m["subject"]]) == 1


@pytest.mark.db
def test_same_webhook_twice_concurrently_has_one_effect(app, clock, stripe_fake, mentor, eur_learner, as_user, books,
                                                        outbox, live_server):
    learner_client = as_user(eur_learner)
    booking = request_booking(learner_client, mentor)
    checkout(learner_client, booking["id"])
    (pi,) = stripe_fake.intents
    payload = stripe_fake.event("payment_intent.amount_capturable_updated", stripe_fake.learner_pays(pi))
    signature = stripe_signature(payload)
    barrier, results = threading.Barrier(2), []

    def deliver():
        barrier.wait()
        results.append(requests.post(f"{live_server}/api/v1/payments/webhooks/stripe", data=payload, timeout=30,
                                     headers={"Stripe-Signature": signature, "Content-Type": "application/json"}))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200, 200]
    assert sorted(r.json()["result"] for r in results) == ["duplicate", "processed"]
    assert books.payment(booking["id"])["status"] == "authorized"
    assert len([m for m in outbox() if "New session request" in m["subject"]]) == 1


def test_out_of_order_events_never_take_a_refunded_payment_back(app, clock, stripe_fake, mentor, eur_learner, as_user,
                                                                books):
    learner_client, mentor_client, booking_id, pi = paid_request(app, stripe_fake, as_user, mentor, eur_learner)
    authorised_snapshot = dict(stripe_fake.intents[pi])
    assert mentor_client.post(f"/api/v1/bookings/{booking_id}/accept").status_code == 200
    captured_snapshot = dict(stripe_fake.intents[pi])
    cancelled = mentor_client.post(f"/api/v1/bookings/{booking_id}/cancel", json={"reason": "Ill"})
    assert cancelled.status_code == 200
    assert books.payment(booking_id)["status"] == "refunded" and books.refunds(booking_id) == [(5000, "succeeded")]
    # late deliveries of older news, each a new event id
    for kind, snapshot in (("payment_intent.succeeded", captured_snapshot),
                           ("payment_intent.amount_capturable_updated", authorised_snapshot)):
        payload = stripe_fake.event(kind, snapshot)
        response = post_stripe(app, payload, stripe_signature(payload))
        assert response.status_code == 200 and response.json["result"] == "no change"
    assert books.payment(booking_id)["status"] == "refunded"
    assert books.ledger(booking_id) == {"learner_payments": 5000, "refunds": 5000}


def test_a_retried_refund_whose_answer_was_lost_refunds_once(app, clock, stripe_fake, mentor, eur_learner, as_user,
                                                             books):
    from api.payments.reconcile import reconcile

    learner_client, mentor_client, booking_id, pi = paid_request(app, stripe_fake, as_user, mentor, eur_learner)
    assert mentor_client.post(f"/api/v1/bookings/{booking_id}/accept").status_code == 200
    stripe_fake.lose_next.add("/v1/refunds")  # Stripe makes the refund, we time out waiting for its answer
    assert learner_client.post(f"/api/v1/bookings/{booking_id}/cancel").json["status"] == "cancelled_by_learner"
    assert books.refunds(booking_id) == [(5000, "pending")]
    assert len(stripe_fake.refunds) == 1
    with app.app_context():
        assert reconcile(min_age_seconds=0)["operations"] == 1  # the retry, same idempotency key
    keys = [c[2] for c in stripe_fake.calls if c[1] == "/v1/refunds"]
    assert keys == [f"mh-booking-{booking_id}-refund-cancelled_by_learner"] * 2
    assert len(stripe_fake.refunds) == 1
    assert books.refunds(booking_id) == [(5000, "succeeded")]
    assert books.payment(booking_id)["status"] == "refunded"
    assert books.ledger(booking_id) == {"learner_payments": 5000, "refunds": 5000}


def test_reconcile_repairs_a_crash_between_charge_and_booking_update(app, clock, stripe_fake, mentor, eur_learner,
                                                                     as_user, books, monkeypatch, outbox):
    """The learner paid, Stripe holds the money, but our handler crashed before booking it."""
    from api.payments import service
    from api.payments.reconcile import reconcile

    learner_client, mentor_client = as_user(eur_learner), as_user(mentor)
    booking = request_booking(learner_client, mentor)
    checkout(learner_client, booking["id"])
    (pi,) = stripe_fake.intents
    payload = stripe_fake.event("payment_intent.amount_capturable_updated", stripe_fake.learner_pays(pi))

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(service, "_notify_paid_request", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert post_stripe(app, payload, stripe_signature(payload)).status_code == 500
    assert books.payment(booking["id"])["status"] == "created"  # rolled back: event not stored either
    monkeypatch.undo()
    with app.app_context():
        assert reconcile(min_age_seconds=0)["verified"] == 1
    assert books.payment(booking["id"])["status"] == "authorized"
    assert len([m for m in outbox() if "New session request" in m["subject"]]) == 1

    # and a crash after the capture call, before its effect was booked
    monkeypatch.setattr(service, "record_operation_success", crash)
    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept").status_code == 200
    assert stripe_fake.intents[pi]["status"] == "succeeded"
    assert books.payment(booking["id"])["status"] == "authorized" and books.operations(booking["id"]) == [
        ("capture", "pending")]
    monkeypatch.undo()
    with app.app_context():
        assert reconcile(min_age_seconds=0)["operations"] == 1
    assert books.payment(booking["id"])["status"] == "captured"
    assert len([c for c in stripe_fake.calls if c[1].endswith("/capture")]) == 2  # one retry, replayed by key
    assert books.ledger(booking["id"]) == {"learner_payments": 5000, "platform_fees": 750, "mentor_pending": 4250}


def test_rejection_releases_the_hold(app, clock, stripe_fake, mentor, eur_learner, as_user, books):
    learner_client, mentor_client, booking_id, pi = paid_request(app, stripe_fake, as_user, mentor, eur_learner)
    rejected = mentor_client.post(f"/api/v1/bookings/{booking_id}/reject", json={"reason": "Busy"})
    assert rejected.status_code == 200
    assert stripe_fake.intents[pi]["status"] == "canceled"
    assert books.payment(booking_id)["status"] == "released" and books.refunds(booking_id) == []
    assert books.ledger(booking_id) == {}


def test_expiry_releases_the_hold(app, clock, stripe_fake, mentor, eur_learner, as_user, books):
    from api.bookings.jobs import run_jobs

    learner_client, mentor_client, booking_id, pi = paid_request(app, stripe_fake, as_user, mentor, eur_learner)
    with app.app_context():
        assert run_jobs(later(25))["expired"] == 1
    assert stripe_fake.intents[pi]["status"] == "canceled"
    assert books.payment(booking_id)["status"] == "released"
