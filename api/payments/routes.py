"""Pages: pay for a session, the provider's return and checkout callback, receipts, a mentor's earnings."""
from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from api.auth.decorators import auth_required, role_required, verified_required
from api.errors import error_response
from api.extensions import csrf, db
from api.money import format_money, price_in, viewer_currency
from api.payments import ledger, service, webhooks
from api.payments.gateways import GATEWAYS
from api.payments.service import PaymentError
from api.payments.display import own_booking, payment_json, price_for_viewer, viewer
from api.tables import Booking, Payment, Role, User

logger = logging.getLogger(__name__)
bp = Blueprint("payments", __name__)


@bp.errorhandler(PaymentError)
def _payment_error(error: PaymentError):
    return error_response(error.status, error.message, error.fields)


@bp.app_template_filter("money")
def _money(amount_minor: int, currency: str) -> str:
    return format_money(int(amount_minor or 0), currency)


@bp.app_template_filter("viewer_money")
def _viewer_money(amount_minor: int, currency: str) -> str:
    """A price as the signed-in viewer sees (and pays) it: in their currency, by the one conversion."""
    return format_money(*price_in(int(amount_minor or 0), currency, viewer_currency(current_user)))


# ---------------------------------------------------------------- pages


@bp.get("/payments/bookings/<int:booking_id>/pay")
@verified_required
def pay_page(booking_id: int):
    """The learner pays for a requested session (the amount is held until the mentor answers)."""
    try:
        booking = own_booking(booking_id, "learner")
    except PaymentError:
        abort(404)
    payment = service.payment_for(booking.id)
    if payment is not None and payment.status.value not in ("created", "failed"):
        return redirect(url_for("payments.receipt", payment_id=payment.id))
    client, error = {}, None
    if booking.status.value == "requested":
        try:
            payment = service.start_checkout(booking.id, viewer())
            client = service.gateway(payment.gateway).client_params(service.checkout_of(payment).order_ref)
        except PaymentError as failure:
            error = failure.message
        except service.GatewayError as failure:
            error = f"The payment provider did not answer: {failure}"
    mentor = db.session.get(User, booking.mentor_id)
    return render_template("payments/pay.html", booking=booking, payment=payment, mentor=mentor, viewer=viewer(),
                           price=price_for_viewer(booking, viewer()), client=client, error=error,
                           gateway_label=GATEWAYS[payment.gateway].label if payment else "")


@bp.post("/payments/sandbox/<int:payment_id>/pay")
@verified_required
def sandbox_pay(payment_id: int):
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.booking.learner_id != viewer().id:
        abort(404)
    ok, message = service.sandbox_pay(payment_id, request.form.get("card_number", ""))
    if not ok:
        flash(message, "error")
        return redirect(url_for("payments.pay_page", booking_id=payment.booking_id))
    flash("Payment held (sandbox): the mentor has been asked to confirm your session.", "success")
    return redirect(url_for("payments.receipt", payment_id=payment_id))


@bp.get("/payments/bookings/<int:booking_id>/return")
@verified_required
def stripe_return(booking_id: int):
    """Stripe's return_url: never trust the redirect's query, ask Stripe (server to server) instead."""
    try:
        booking = own_booking(booking_id, "learner")
    except PaymentError:
        abort(404)
    payment = service.payment_for(booking.id)
    if payment is None:
        abort(404)
    try:
        payment = service.confirm_from_provider(payment.id)
    except PaymentError as error:
        flash(error.message, "error")
    return redirect(url_for("payments.receipt", payment_id=payment.id))


@bp.get("/payments/receipts")
@auth_required
def receipts():
    user = viewer()
    payments = service.learner_payments(user.id)
    mentors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({p.booking.mentor_id for p in payments})))}
    return render_template("payments/receipts.html", payments=payments, mentors=mentors, viewer=user,
                           labels={k: v.label for k, v in GATEWAYS.items()})


@bp.get("/payments/receipts/<int:payment_id>")
@auth_required
def receipt(payment_id: int):
    payment = db.session.get(Payment, payment_id)
    user = viewer()
    if payment is None or user.id not in (payment.booking.learner_id, payment.booking.mentor_id):
        abort(404)
    data = payment_json(payment, user)
    return render_template("payments/receipt.html", payment=payment, data=data, booking=payment.booking,
                           mentor=db.session.get(User, payment.booking.mentor_id),
                           learner=db.session.get(User, payment.booking.learner_id), viewer=user,
                           checkout=service.checkout_of(payment))


@bp.get("/payments/earnings")
@role_required(Role.MENTOR)
def earnings():
    user = viewer()
    currency = viewer_currency(user)
    has_entries = bool(ledger.mentor_balances(user.id))
    return render_template("payments/earnings.html", viewer=user, currency=currency, has_entries=has_entries,
                           totals=ledger.mentor_balances_in(user.id, currency),
                           entries=ledger.mentor_entries_in(user.id, currency, 50))


@bp.post("/payments/bookings/<int:booking_id>/razorpay/callback")
@csrf.exempt  # Razorpay posts here from its checkout; the signature over OUR order id is the proof
def razorpay_callback(booking_id: int):
    """Checkout's handler: verify_payment_signature against the order id this server stored for the booking."""
    from razorpay.errors import SignatureVerificationError  # lazy: the Razorpay SDK costs 0.25 s of start-up

    data = request.get_json(silent=True) or request.form
    payment = service.payment_for(booking_id)
    booking = db.session.get(Booking, booking_id)
    if payment is None or booking is None or payment.gateway != "razorpay":
        return error_response(404, "There is no Razorpay payment for that booking.", {"booking_id": "unknown"})
    checkout = service.checkout_of(payment)
    charge_ref = str(data.get("razorpay_payment_id", ""))
    try:
        webhooks.razorpay_client().utility.verify_payment_signature({
            "razorpay_order_id": checkout.order_ref,  # ours, never the posted one
            "razorpay_payment_id": charge_ref,
            "razorpay_signature": str(data.get("razorpay_signature", "")),
        })
    except SignatureVerificationError:
        logger.warning("razorpay callback for booking %s: bad signature", booking_id)
        return error_response(400, "The payment could not be verified.", {"razorpay_signature": "invalid"})
    payment = service.record_checkout_authorization(payment.id, charge_ref)
    if request.is_json:
        return {"status": payment.status.value}
    return redirect(url_for("payments.receipt", payment_id=payment.id))
