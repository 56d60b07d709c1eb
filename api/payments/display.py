"""What the payment pages and the JSON API both show: the viewer, their own booking, a payment and a price."""
from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from api.extensions import db
from api.money import format_money
from api.payments import service
from api.payments.gateways import GATEWAYS
from api.payments.service import PaymentError
from api.tables import Booking, Payment, Refund, User


def viewer() -> User:
    """The signed-in user (admitted by the view's guard) as the row the services take."""
    return current_user._get_current_object()


def own_booking(booking_id: int, role: str | None = None) -> Booking:
    booking = db.session.get(Booking, booking_id)
    user = viewer()
    allowed = {"learner": (booking.learner_id,), "mentor": (booking.mentor_id,)}.get(
        role, (booking.learner_id, booking.mentor_id)) if booking else ()
    if booking is None or user.id not in allowed:
        raise PaymentError(404, "There is no booking with that id.", "booking_id")
    return booking


def payment_json(payment: Payment | None, viewer: User | None = None) -> dict | None:
    if payment is None:
        return None
    checkout = service.checkout_of(payment)
    refunds = [{"amount_minor": r.amount_minor, "currency": r.currency, "status": r.status, "reason": r.reason}
               for r in db.session.scalars(select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id))]
    body = {
        "id": payment.id, "booking_id": payment.booking_id, "gateway": payment.gateway,
        "gateway_label": GATEWAYS[payment.gateway].label, "sandbox": payment.gateway == "sandbox",
        "status": payment.status.value, "amount_minor": payment.amount_minor, "currency": payment.currency,
        "display": format_money(payment.amount_minor, payment.currency),
        "captured_minor": payment.captured_minor, "refunds": refunds,
        "refunded_minor": sum(r["amount_minor"] for r in refunds if r["status"] == "succeeded"),
        "list_price_minor": checkout.list_price_minor if checkout else None,
        "list_currency": checkout.list_currency if checkout else None,
    }
    if viewer is not None and viewer.id == payment.booking.mentor_id:
        body["platform_fee_minor"] = payment.platform_fee_minor
    return body


def price_for_viewer(booking: Booking, viewer: User) -> dict:
    amount, currency = service.charge_for(booking, viewer)
    return {"amount_minor": amount, "currency": currency, "display": format_money(amount, currency),
            "list_display": format_money(booking.price_minor, booking.currency),
            "converted": currency != booking.currency}
