"""Payment fixtures: local HTTP servers speaking Stripe's and Razorpay's APIs (driven by the real SDKs),
signed webhooks built with each provider's HMAC scheme, and the booking fixtures of tests/api/bookings."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from api.extensions import db
from api.tables import Booking, LedgerEntry, Payment, PaymentOperation, Refund, User
from tests.api.bookings.conftest import (  # noqa: F401  (fixtures re-used here)
    NOW,
    ApiClient,
    as_user,
    clock,
    create_mentor,
    create_person,
    learner,
    mentor,
    outbox,
)

TUESDAY_9_BERLIN = "2026-03-03T08:00:00Z"
STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
RAZORPAY_KEY_SECRET = "rzp_test_key_secret"
RAZORPAY_WEBHOOK_SECRET = "rzp_webhook_secret"


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class FakeStripe:
    """PaymentIntents (manual capture) and refunds, with Stripe's idempotency-key replay."""

    def __init__(self):
        self.intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.replies: dict[str, tuple[str, int, str]] = {}  # Idempotency-Key -> (request fingerprint, status, body)
        self.calls: list[tuple[str, str, str | None]] = []
        self.lose_next: set[str] = set()  # paths whose next answer is delayed past the client's timeout
        self.lock = threading.Lock()
        self.ids = itertools.count(1)

    def handle(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key")
        self.calls.append((request.method, request.path, key))
        if request.headers.get("Authorization") != "Bearer sk_test_fake":
            return _json({"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}, 401)
        with self.lock:
            if request.method == "POST" and key in self.replies:
                fingerprint, status, body = self.replies[key]
                if fingerprint != request.path:
                    return _json({"error": {"type": "idempotency_error", "message": "Keys for idempotent requests "
                                            "can only be used with the same parameters"}}, 400)
                response = Response(body, status=status, content_type="application/json")
                response.headers["Idempotent-Replayed"] = "true"
            else:
                status, payload = self._dispatch(request)
                body = json.dumps(payload)
                if request.method == "POST" and key:
                    self.replies[key] = (request.path, status, body)
                response = Response(body, status=status, content_type="application/json")
        if request.path in self.lose_next:
            self.lose_next.discard(request.path)
            time.sleep(1.2)  # the effect happened; the answer arrives after the client gave up
        return response

    def _dispatch(self, request: Request):
        form, path = request.form, request.path
        if path == "/v1/payment_intents" and request.method == "POST":
            pi_id = f"pi_{next(self.ids):06d}"
            self.intents[pi_id] = {
                "id": pi_id, "object": "payment_intent", "amount": int(form["amount"]), "currency": form["currency"],
                "capture_method": form.get("capture_method", "automatic"), "status": "requires_payment_method",
                "client_secret": f"{pi_id}_secret_x", "amount_received": 0, "amount_capturable": 0,
                "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}}
            return 200, self.intents[pi_id]
        match = re.fullmatch(r"/v1/payment_intents/(pi_\w+?)(/capture|/cancel)?", path)
        if match:
            intent = self.intents.get(match.group(1))
            if intent is None:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such payment_intent"}}
            action = match.group(2)
            if action == "/capture":
                if intent["status"] != "requires_capture":
                    return 400, {"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                                           "message": f"This PaymentIntent could not be captured because it has a "
                                                      f"status of {intent['status']}."}}
                amount = int(form.get("amount_to_capture", intent["amount"]))
                intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
            elif action == "/cancel":
                if intent["status"] in ("succeeded", "canceled"):
                    return 400, {"error": {"type": "invalid_request_error", "message": "cannot cancel"}}
                intent.update(status="canceled", amount_capturable=0)
            return 200, intent
        if path == "/v1/refunds" and request.method == "POST":
            intent = self.intents[form["payment_intent"]]
            amount = int(form.get("amount", intent["amount_received"]))
            refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"])
            if intent["status"] != "succeeded" or refunded + amount > intent["amount_received"]:
                return 400, {"error": {"type": "invalid_request_error", "message": "Refund exceeds the charge"}}
            re_id = f"re_{next(self.ids):06d}"
            self.refunds[re_id] = {"id": re_id, "object": "refund", "amount": amount, "currency": intent["currency"],
                                   "payment_intent": intent["id"], "status": "succeeded",
                                   "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}}
            return 200, self.refunds[re_id]
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}}

    def learner_pays(self, pi_id: str) -> dict:
        """What Stripe.js confirming the card does: the amount becomes capturable."""
        intent = self.intents[pi_id]
        intent.update(status="requires_capture", amount_capturable=intent["amount"])
        return dict(intent)

    def event(self, kind: str, obj: dict, event_id: str | None = None) -> bytes:
        body = {"id": event_id or f"evt_{next(self.ids):06d}", "object": "event", "type": kind,
                "api_version": "2024-06-20", "created": int(time.time()), "data": {"object": dict(obj)}}
        return json.dumps(body, indent=2).encode()


def stripe_signature(payload: bytes, secret: str = STRIPE_WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe-Signature as Stripe computes it: t=..., v1=HMAC_SHA256(secret, f"{t}.{payload}")."""
    t = int(time.time()) if timestamp is None else timestamp
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


class FakeRazorpay:
    """Orders, payments (authorised, captured), refunds with X-Refund-Idempotency."""

    def __init__(self):
        self.orders: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.refund_keys: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.ids = itertools.count(1)

    def handle(self, request: Request) -> Response:
        self.calls.append((request.method, request.path))
        if request.authorization is None or request.authorization.password != RAZORPAY_KEY_SECRET:
            return _json({"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}, 401)
        with self.lock:
            status, body = self._dispatch(request)
        return _json(body, status)

    def _dispatch(self, request: Request):
        path = request.path
        data = request.get_json(silent=True) or {}
        if path == "/v1/orders" and request.method == "POST":
            order_id = f"order_{next(self.ids):06d}"
            self.orders[order_id] = {"id": order_id, "entity": "order", "amount": data["amount"],
                                     "currency": data["currency"], "receipt": data.get("receipt"), "status": "created",
                                     "notes": data.get("notes", {})}
            return 200, self.orders[order_id]
        match = re.fullmatch(r"/v1/orders/(order_\w+?)(/payments)?", path)
        if match:
            order = self.orders[match.group(1)]
            if match.group(2):
                items = [p for p in self.payments.values() if p["order_id"] == order["id"]]
                return 200, {"entity": "collection", "count": len(items), "items": items}
            return 200, order
        match = re.fullmatch(r"/v1/payments/(pay_\w+?)(/capture|/refund)?", path)
        if match:
            payment = self.payments[match.group(1)]
            if match.group(2) == "/capture":
                if payment["status"] != "authorized":
                    return 400, {"error": {"code": "BAD_REQUEST_ERROR",
                                           "description": "This payment has already been captured"}}
                if int(data["amount"]) != payment["amount"]:
                    return 400, {"error": {"code": "BAD_REQUEST_ERROR",
                                           "description": "Capture amount must be equal to the amount authorized"}}
                payment.update(status="captured", captured=True)
            elif match.group(2) == "/refund":
                key = request.headers.get("X-Refund-Idempotency")
                if key and key in self.refund_keys:
                    return 200, self.refund_keys[key]
                refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_id"] == payment["id"])
                if payment["status"] != "captured" or refunded + int(data["amount"]) > payment["amount"]:
                    return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "refund exceeds payment"}}
                rfnd_id = f"rfnd_{next(self.ids):06d}"
                refund = {"id": rfnd_id, "entity": "refund", "amount": int(data["amount"]), "payment_id": payment["id"],
                          "currency": payment["currency"], "notes": data.get("notes", {}), "status": "processed"}
                self.refunds[rfnd_id] = refund
                if key:
                    self.refund_keys[key] = refund
                return 200, refund
            return 200, payment
        return 404, {"error": {"code": "BAD_REQUEST_ERROR", "description": f"The requested URL {path} was not found"}}

    def learner_pays(self, order_id: str) -> tuple[str, str]:
        """Razorpay Checkout: an authorised payment and the signature the browser posts back to us."""
        order = self.orders[order_id]
        pay_id = f"pay_{next(self.ids):06d}"
        self.payments[pay_id] = {"id": pay_id, "entity": "payment", "amount": order["amount"],
                                 "currency": order["currency"], "status": "authorized", "order_id": order_id,
                                 "captured": False}
        order["status"] = "attempted"
        signature = hmac.new(RAZORPAY_KEY_SECRET.encode(), f"{order_id}|{pay_id}".encode(), hashlib.sha256).hexdigest()
        return pay_id, signature

    def event(self, kind: str, entity_name: str, entity: dict) -> str:
        return json.dumps({"entity": "event", "account_id": "acc_test", "event": kind, "contains": [entity_name],
                           "payload": {entity_name: {"entity": dict(entity)}}, "created_at": int(time.time())})


def razorpay_signature(body: str, secret: str = RAZORPAY_WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def _serve(fake) -> HTTPServer:
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.expect_request(re.compile(r"^/v1/.*")).respond_with_handler(fake.handle)
    server.start()
    return server


@pytest.fixture
def stripe_fake(app):
    fake = FakeStripe()
    server = _serve(fake)
    config = app.config["MENTORHUB_SETTINGS"]
    config.stripe_secret_key, config.stripe_webhook_secret = "sk_test_fake", STRIPE_WEBHOOK_SECRET
    config.stripe_api_base, config.payments_http_timeout_seconds = server.url_for("/").rstrip("/"), 0.6
    yield fake
    server.clear()
    server.stop()


@pytest.fixture
def razorpay_fake(app):
    fake = FakeRazorpay()
    server = _serve(fake)
    config = app.config["MENTORHUB_SETTINGS"]
    config.razorpay_key_id, config.razorpay_key_secret = "rzp_test_key", RAZORPAY_KEY_SECRET
    config.razorpay_webhook_secret, config.razorpay_api_base = RAZORPAY_WEBHOOK_SECRET, server.url_for("/").rstrip("/")
    config.payments_http_timeout_seconds = 0.6
    yield fake
    server.clear()
    server.stop()


def set_currency(app, person, currency: str) -> None:
    with app.app_context():
        db.session.get(User, person.id).currency = currency
        db.session.commit()


def request_booking(client: ApiClient, mentor, starts_at: str = TUESDAY_9_BERLIN) -> dict:
    response = client.post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": starts_at, "note": "SQL"})
    assert response.status_code == 201, response.json
    return response.json


def checkout(client: ApiClient, booking_id: int) -> dict:
    response = client.post(f"/api/v1/payments/bookings/{booking_id}/checkout")
    assert response.status_code == 201, response.json
    return response.json


def post_stripe(app, payload: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return app.test_client().post("/api/v1/payments/webhooks/stripe", data=payload, headers=headers)


def post_razorpay(app, body: str, signature: str | None, event_id: str | None = None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Razorpay-Signature"] = signature
    if event_id:
        headers["X-Razorpay-Event-Id"] = event_id
    return app.test_client().post("/api/v1/payments/webhooks/razorpay", data=body, headers=headers)


class Books:
    """Read the database as the tests need it."""

    def __init__(self, app):
        self.app = app

    def _read(self, fn):
        with self.app.app_context():
            return fn()

    def payment(self, booking_id: int) -> dict:
        def read():
            p = db.session.scalar(select(Payment).where(Payment.booking_id == booking_id).order_by(Payment.id.desc()))
            return None if p is None else {"status": p.status.value, "amount": p.amount_minor, "currency": p.currency,
                                           "captured": p.captured_minor, "fee": p.platform_fee_minor, "id": p.id,
                                           "gateway": p.gateway, "ref": p.provider_ref}
        return self._read(read)

    def booking_status(self, booking_id: int) -> str:
        return self._read(lambda: db.session.get(Booking, booking_id).status.value)

    def refunds(self, booking_id: int) -> list[tuple[int, str]]:
        return self._read(lambda: [(r.amount_minor, r.status) for r in db.session.scalars(
            select(Refund).join(Payment, Payment.id == Refund.payment_id).where(Payment.booking_id == booking_id)
            .order_by(Refund.id))])

    def operations(self, booking_id: int) -> list[tuple[str, str]]:
        return self._read(lambda: [(o.kind, o.status) for o in db.session.scalars(
            select(PaymentOperation).join(Payment, Payment.id == PaymentOperation.payment_id)
            .where(Payment.booking_id == booking_id).order_by(PaymentOperation.id))])

    def balances(self, mentor_id: int) -> dict:
        from api.payments.ledger import mentor_balances

        return self._read(lambda: mentor_balances(mentor_id))

    def ledger(self, booking_id: int) -> dict[str, int]:
        def read():
            totals: dict[str, int] = {}
            for e in db.session.scalars(select(LedgerEntry).where(LedgerEntry.booking_id == booking_id)):
                totals[e.account] = totals.get(e.account, 0) + e.amount_minor
            return {k: v for k, v in totals.items() if v}
        return self._read(read)


@pytest.fixture
def books(app):
    return Books(app)


def later(hours: float):
    return NOW + timedelta(hours=hours)
