"""Incoming provider news: what Stripe and Razorpay webhooks mean for our books (the views are in `api` and,
for Razorpay's checkout callback, `routes`).

Nothing is believed without the provider's signature, checked by the provider SDK's own code on the raw
body; each event id is stored (unique per gateway) in the same transaction as its effect, so an event
delivered twice, even concurrently, has one effect.
"""
from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.bookings.service import now_utc
from api.bookings.transaction import serialised_write
from api.extensions import db
from api.payments import service
from api.payments.gateways import RazorpayGateway, StripeGateway
from api.settings import current_settings
from api.tables import ProviderEvent

STRIPE_TOLERANCE_SECONDS = 300


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


def razorpay_client():
    """Razorpay's SDK client with this app's keys (its `utility` checks signatures)."""
    return RazorpayGateway(current_settings()).client


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
