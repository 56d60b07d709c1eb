"""Incoming provider news: Stripe and Razorpay webhooks, and Razorpay's checkout callback.

Nothing is believed without the provider's signature, checked by the provider SDK's own code on the raw
body; each event id is stored (unique per gateway) in the same transaction as its effect, so an event
delivered twice, even concurrently, has one effect.
"""
from __future__ import annotations

import hashlib
import json
import logging

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.bookings.service import now_utc
from api.bookings.transaction import serialised_write
from api.errors import error_response
from api.extensions import csrf, db
from api.payments import bp, service
from api.payments.gateways import RazorpayGateway, StripeGateway
from api.tables import Booking, ProviderEvent

logger = logging.getLogger(__name__)
STRIPE_TOLERANCE_SECONDS = 300


def _settings():
    return current_app.config["MENTORHUB_SETTINGS"]


def process_once(gateway: str, event_id: str, effect) -> str:
    """Store the event id and apply its effect in one transaction; a repeated id changes nothing."""
    try:
        with serialised_write():
            db.session.add(ProviderEvent(gateway=gateway, event_id=event_id[:255]))
            db.session.flush()
            return effect() or "processed"
    except IntegrityError:
        seen = db.session.scalar(select(ProviderEvent.id).where(ProviderEvent.gateway == gateway,
                                                                 ProviderEvent.event_id == event_id[:255]))
        if seen is None:
            raise
        return "duplicate"


# ---------------------------------------------------------------- Stripe


@bp.post("/api/v1/payments/webhooks/stripe")
@bp.doc(hide=True)
@csrf.exempt
def stripe_webhook():
    import stripe

    secret = _settings().stripe_webhook_secret
    if not secret:
        return error_response(400, "Stripe webhooks are not configured.")
    payload = request.get_data()  # the raw body: a re-serialised one no longer matches its signature
    try:
        event = stripe.Webhook.construct_event(payload, request.headers.get("Stripe-Signature"), secret,
                                               tolerance=STRIPE_TOLERANCE_SECONDS)
    except (ValueError, stripe.SignatureVerificationError) as error:
        logger.warning("stripe webhook refused: %s", error)
        return error_response(400, "Invalid Stripe signature or payload.")
    result = process_once("stripe", event["id"], lambda: handle_stripe_event(event))
    return {"received": True, "result": result}


def handle_stripe_event(event) -> str:
    kind, obj, at = event["type"], event["data"]["object"], now_utc()
    if kind.startswith("payment_intent."):
        if kind in ("payment_intent.payment_failed", "payment_intent.created", "payment_intent.processing"):
            return "ignored"
        payment = service.payment_by_order(obj["id"])
        if payment is None:
            return "unknown payment"
        changed = service.apply_provider_state(payment, StripeGateway.from_intent(obj), at)
        return "processed" if changed else "no change"
    if kind in ("refund.created", "refund.updated", "charge.refund.updated") and obj.get("status") == "succeeded":
        key = (obj.get("metadata") or {}).get("idempotency_key")
        return "processed" if service.record_refund_seen(key, obj["id"], at) else "no change"
    return "ignored"


# ---------------------------------------------------------------- Razorpay


def _razorpay_client():
    return RazorpayGateway(_settings()).client


@bp.post("/api/v1/payments/webhooks/razorpay")
@bp.doc(hide=True)
@csrf.exempt
def razorpay_webhook():
    from razorpay.errors import SignatureVerificationError

    secret = _settings().razorpay_webhook_secret
    signature = request.headers.get("X-Razorpay-Signature")
    if not secret or not signature:
        return error_response(400, "Missing Razorpay signature." if secret else "Razorpay webhooks are not configured.")
    body = request.get_data(as_text=True)
    try:
        _razorpay_client().utility.verify_webhook_signature(body, signature, secret)
        event = json.loads(body)
    except (SignatureVerificationError, ValueError) as error:
        logger.warning("razorpay webhook refused: %s", error)
        return error_response(400, "Invalid Razorpay signature or payload.")
    result = process_once("razorpay", razorpay_event_key(event, body), lambda: handle_razorpay_event(event))
    return {"received": True, "result": result}


def razorpay_event_key(event: dict, body: str) -> str:
    """What makes a Razorpay event the same event: its kind and the ids inside the signed payload.

    The X-Razorpay-Event-Id header is outside the signature, so a replayed body with a new header would count
    as new; the payload's own entity ids cannot be changed without breaking the signature.
    """
    kind = str(event.get("event", ""))
    ids = sorted(f"{name}={part['entity']['id']}" for name, part in (event.get("payload") or {}).items()
                 if isinstance(part, dict) and isinstance(part.get("entity"), dict) and part["entity"].get("id"))
    if kind and ids:
        return f"{kind}:{','.join(ids)}"
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def handle_razorpay_event(event: dict) -> str:
    kind, payload, at = event.get("event", ""), event.get("payload", {}), now_utc()
    if kind in ("payment.authorized", "payment.captured"):
        entity = payload["payment"]["entity"]
        payment = service.payment_by_order(entity.get("order_id") or "")
        if payment is None:
            return "unknown payment"
        changed = service.apply_provider_state(payment, RazorpayGateway.from_payment(entity), at)
        return "processed" if changed else "no change"
    if kind == "refund.processed":
        entity = payload["refund"]["entity"]
        key = (entity.get("notes") or {}).get("idempotency_key") if isinstance(entity.get("notes"), dict) else None
        return "processed" if service.record_refund_seen(key, entity["id"], at) else "no change"
    return "ignored"


@bp.post("/payments/bookings/<int:booking_id>/razorpay/callback")
@bp.doc(hide=True)
@csrf.exempt  # Razorpay posts here from its checkout; the signature over OUR order id is the proof
def razorpay_callback(booking_id: int):
    """Checkout's handler: verify_payment_signature against the order id this server stored for the booking."""
    from flask import redirect, url_for
    from razorpay.errors import SignatureVerificationError

    data = request.get_json(silent=True) or request.form
    payment = service.payment_for(booking_id)
    booking = db.session.get(Booking, booking_id)
    if payment is None or booking is None or payment.gateway != "razorpay":
        return error_response(404, "There is no Razorpay payment for that booking.", {"booking_id": "unknown"})
    checkout = service.checkout_of(payment)
    charge_ref = str(data.get("razorpay_payment_id", ""))
    try:
        _razorpay_client().utility.verify_payment_signature({
            "razorpay_order_id": checkout.order_ref,  # ours, never the posted one
            "razorpay_payment_id": charge_ref,
            "razorpay_signature": str(data.get("razorpay_signature", "")),
        })
    except SignatureVerificationError:
        logger.warning("razorpay callback for booking %s: bad signature", booking_id)
        return error_response(400, "The payment could not be verified.", {"razorpay_signature": "invalid"})
    payment_id = payment.id
    with serialised_write():
        locked = service._locked_payment(payment_id)
        service.record_authorization(locked, charge_ref, locked.amount_minor, locked.currency, now_utc())
    if request.is_json:
        return {"status": db.session.get(type(payment), payment_id).status.value}
    return redirect(url_for("payments.receipt", payment_id=payment_id))
