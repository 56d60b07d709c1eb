"""The JSON API under /api/v1/payments: checkout, payments, receipts, earnings, admin settings and revenue, and
the providers' webhooks."""
from __future__ import annotations

import json
import logging

from apiflask import APIBlueprint, Schema
from apiflask.fields import Float, Integer
from apiflask.validators import Range
from flask import request, url_for
from flask_login import current_user

from api.auth.decorators import admin_required, auth_required, verified_required
from api.errors import error_response
from api.extensions import csrf
from api.money import viewer_currency
from api.payments import config, ledger, service, webhooks
from api.payments.service import PaymentError
from api.payments.display import own_booking, payment_json, price_for_viewer, viewer
from api.settings import current_settings

logger = logging.getLogger(__name__)
api_bp = APIBlueprint("payments_api", __name__, tag="Payments")


@api_bp.errorhandler(PaymentError)
def _payment_error(error: PaymentError):
    return error_response(error.status, error.message, error.fields)


@api_bp.post("/api/v1/payments/bookings/<int:booking_id>/checkout")
@verified_required
def api_checkout(booking_id: int):
    """Start (or get again) the booking's payment; returns what the client needs to pay."""
    booking = own_booking(booking_id, "learner")
    payment = service.start_checkout(booking.id, viewer())
    client = service.gateway(payment.gateway).client_params(service.checkout_of(payment).order_ref)
    return {"payment": payment_json(payment), "client": client,
            "pay_url": url_for("payments.pay_page", booking_id=booking.id)}, 201


@api_bp.get("/api/v1/payments/bookings/<int:booking_id>")
@auth_required
def api_payment(booking_id: int):
    booking = own_booking(booking_id)
    return {"payment": payment_json(service.payment_for(booking.id), viewer()),
            "price": price_for_viewer(booking, viewer())}


@api_bp.post("/api/v1/payments/bookings/<int:booking_id>/confirm")
@verified_required
def api_confirm(booking_id: int):
    """After the client-side payment: the server asks the provider where the payment stands."""
    booking = own_booking(booking_id, "learner")
    payment = service.payment_for(booking.id)
    if payment is None:
        raise PaymentError(404, "This booking has no payment yet.", "booking_id")
    return {"payment": payment_json(service.confirm_from_provider(payment.id))}


@api_bp.get("/api/v1/payments/receipts")
@auth_required
def api_receipts():
    user = viewer()
    return {"receipts": [payment_json(p, user) for p in service.learner_payments(user.id)]}


@api_bp.get("/api/v1/payments/earnings")
@auth_required
def api_earnings():
    user = viewer()
    currency = viewer_currency(user)
    return {"balances": ledger.mentor_balances(user.id), "currency": currency,
            "totals": ledger.mentor_balances_in(user.id, currency)}


class PaymentSettingsIn(Schema):
    platform_fee_percent = Float(validate=Range(0, 100))
    cutoff_hours = Integer(validate=Range(0, 720))
    late_refund_percent = Integer(validate=Range(0, 100))


def _payment_settings() -> dict:
    return {"platform_fee_percent": config.platform_fee_basis_points() / 100, **config.refund_policy()}


@api_bp.get("/api/v1/payments/settings")
@admin_required
def api_settings():
    """The platform fee and the refund policy (admin)."""
    return _payment_settings()


@api_bp.put("/api/v1/payments/settings")
@admin_required
@api_bp.input(PaymentSettingsIn, arg_name="data")
def api_put_settings(data: dict):
    config.update(current_user.id, **data)
    return _payment_settings()


@api_bp.get("/api/v1/payments/revenue")
@admin_required
def api_revenue():
    """Per day and currency: gross captured, platform fees, mentor earnings, refunds (from the ledger)."""
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for line in ledger.revenue_lines():
        row = totals.setdefault((line["at"].date().isoformat(), line["currency"]),
                                {"gross": 0, "fee": 0, "earnings": 0, "refund": 0})
        row[line["kind"]] += line["amount_minor"]
    return {"days": [{"day": day, "currency": cur, **row} for (day, cur), row in sorted(totals.items())]}


@api_bp.get("/api/v1/payments/price/<int:booking_id>")
@auth_required
def api_price(booking_id: int):
    booking = own_booking(booking_id)
    return price_for_viewer(booking, viewer())


# ---------------------------------------------------------------- provider webhooks


@api_bp.post("/api/v1/payments/webhooks/stripe")
@api_bp.doc(hide=True)
@csrf.exempt
def stripe_webhook():
    import stripe  # lazy: the Stripe SDK costs 0.6 s of start-up, and only this webhook needs it here

    secret = current_settings().stripe_webhook_secret
    if not secret:
        return error_response(400, "Stripe webhooks are not configured.")
    payload = request.get_data()  # the raw body: a re-serialised one no longer matches its signature
    try:
        event = stripe.Webhook.construct_event(payload, request.headers.get("Stripe-Signature"), secret,
                                               tolerance=webhooks.STRIPE_TOLERANCE_SECONDS)
    except (ValueError, stripe.SignatureVerificationError) as error:
        logger.warning("stripe webhook refused: %s", error)
        return error_response(400, "Invalid Stripe signature or payload.")
    result = webhooks.process_once("stripe", event["id"], lambda: webhooks.handle_stripe_event(event))
    return {"received": True, "result": result}


@api_bp.post("/api/v1/payments/webhooks/razorpay")
@api_bp.doc(hide=True)
@csrf.exempt
def razorpay_webhook():
    from razorpay.errors import SignatureVerificationError  # lazy: the Razorpay SDK costs 0.25 s of start-up

    secret = current_settings().razorpay_webhook_secret
    signature = request.headers.get("X-Razorpay-Signature")
    if not secret or not signature:
        return error_response(400, "Missing Razorpay signature." if secret else "Razorpay webhooks are not configured.")
    body = request.get_data(as_text=True)
    try:
        webhooks.razorpay_client().utility.verify_webhook_signature(body, signature, secret)
        event = json.loads(body)
    except (SignatureVerificationError, ValueError) as error:
        logger.warning("razorpay webhook refused: %s", error)
        return error_response(400, "Invalid Razorpay signature or payload.")
    result = webhooks.process_once("razorpay", webhooks.razorpay_event_key(event, body), lambda: webhooks.handle_razorpay_event(event))
    return {"received": True, "result": result}
