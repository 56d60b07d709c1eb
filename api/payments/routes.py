"""Pages (pay, receipts, earnings) and the JSON API under /api/v1/payments."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Float, Integer
from apiflask.validators import Range
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from api.auth.decorators import admin_required, auth_required, verified_required
from api.errors import error_response
from api.extensions import db
from api.payments import bp, config, ledger, service
from api.payments.gateways import GATEWAYS
from api.money import format_money, price_in, viewer_currency
from api.payments.service import PaymentError
from api.tables import Booking, Payment, Refund, Role, User


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


def _viewer() -> User:
    return current_user._get_current_object()


def _own_booking(booking_id: int, role: str | None = None) -> Booking:
    booking = db.session.get(Booking, booking_id)
    user = _viewer()
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


# ---------------------------------------------------------------- pages


@bp.get("/payments/bookings/<int:booking_id>/pay")
@bp.doc(hide=True)
@verified_required
def pay_page(booking_id: int):
    """The learner pays for a requested session (the amount is held until the mentor answers)."""
    try:
        booking = _own_booking(booking_id, "learner")
    except PaymentError:
        abort(404)
    payment = service.payment_for(booking.id)
    if payment is not None and payment.status.value not in ("created", "failed"):
        return redirect(url_for("payments.receipt", payment_id=payment.id))
    client, error = {}, None
    if booking.status.value == "requested":
        try:
            payment = service.start_checkout(booking.id, _viewer())
            client = service.gateway(payment.gateway).client_params(service.checkout_of(payment).order_ref)
        except PaymentError as failure:
            error = failure.message
        except service.GatewayError as failure:
            error = f"The payment provider did not answer: {failure}"
    mentor = db.session.get(User, booking.mentor_id)
    return render_template("payments/pay.html", booking=booking, payment=payment, mentor=mentor, viewer=_viewer(),
                           price=price_for_viewer(booking, _viewer()), client=client, error=error,
                           gateway_label=GATEWAYS[payment.gateway].label if payment else "")


@bp.post("/payments/sandbox/<int:payment_id>/pay")
@bp.doc(hide=True)
@verified_required
def sandbox_pay(payment_id: int):
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.booking.learner_id != _viewer().id:
        abort(404)
    ok, message = service.sandbox_pay(payment_id, request.form.get("card_number", ""))
    if not ok:
        flash(message, "error")
        return redirect(url_for("payments.pay_page", booking_id=payment.booking_id))
    flash("Payment held (sandbox): the mentor has been asked to confirm your session.", "success")
    return redirect(url_for("payments.receipt", payment_id=payment_id))


@bp.get("/payments/bookings/<int:booking_id>/return")
@bp.doc(hide=True)
@verified_required
def stripe_return(booking_id: int):
    """Stripe's return_url: never trust the redirect's query, ask Stripe (server to server) instead."""
    try:
        booking = _own_booking(booking_id, "learner")
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
@bp.doc(hide=True)
@auth_required
def receipts():
    user = _viewer()
    payments = list(db.session.scalars(select(Payment).join(Booking, Booking.id == Payment.booking_id)
                                       .where(Booking.learner_id == user.id).order_by(Payment.id.desc()).limit(100)))
    mentors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({p.booking.mentor_id for p in payments})))}
    return render_template("payments/receipts.html", payments=payments, mentors=mentors, viewer=user,
                           labels={k: v.label for k, v in GATEWAYS.items()})


@bp.get("/payments/receipts/<int:payment_id>")
@bp.doc(hide=True)
@auth_required
def receipt(payment_id: int):
    payment = db.session.get(Payment, payment_id)
    user = _viewer()
    if payment is None or user.id not in (payment.booking.learner_id, payment.booking.mentor_id):
        abort(404)
    data = payment_json(payment, user)
    return render_template("payments/receipt.html", payment=payment, data=data, booking=payment.booking,
                           mentor=db.session.get(User, payment.booking.mentor_id),
                           learner=db.session.get(User, payment.booking.learner_id), viewer=user,
                           checkout=service.checkout_of(payment))


@bp.get("/payments/earnings")
@bp.doc(hide=True)
@auth_required
def earnings():
    user = _viewer()
    if not user.has_role(Role.MENTOR):
        abort(403)
    currency = viewer_currency(user)
    has_entries = bool(ledger.mentor_balances(user.id))
    return render_template("payments/earnings.html", viewer=user, currency=currency, has_entries=has_entries,
                           totals=ledger.mentor_balances_in(user.id, currency),
                           entries=ledger.mentor_entries_in(user.id, currency, 50))


# ---------------------------------------------------------------- JSON API


@bp.post("/api/v1/payments/bookings/<int:booking_id>/checkout")
@verified_required
def api_checkout(booking_id: int):
    """Start (or get again) the booking's payment; returns what the client needs to pay."""
    booking = _own_booking(booking_id, "learner")
    payment = service.start_checkout(booking.id, _viewer())
    client = service.gateway(payment.gateway).client_params(service.checkout_of(payment).order_ref)
    return {"payment": payment_json(payment), "client": client,
            "pay_url": url_for("payments.pay_page", booking_id=booking.id)}, 201


@bp.get("/api/v1/payments/bookings/<int:booking_id>")
@auth_required
def api_payment(booking_id: int):
    booking = _own_booking(booking_id)
    return {"payment": payment_json(service.payment_for(booking.id), _viewer()),
            "price": price_for_viewer(booking, _viewer())}


@bp.post("/api/v1/payments/bookings/<int:booking_id>/confirm")
@verified_required
def api_confirm(booking_id: int):
    """After the client-side payment: the server asks the provider where the payment stands."""
    booking = _own_booking(booking_id, "learner")
    payment = service.payment_for(booking.id)
    if payment is None:
        raise PaymentError(404, "This booking has no payment yet.", "booking_id")
    return {"payment": payment_json(service.confirm_from_provider(payment.id))}


@bp.get("/api/v1/payments/receipts")
@auth_required
def api_receipts():
    user = _viewer()
    payments = db.session.scalars(select(Payment).join(Booking, Booking.id == Payment.booking_id)
                                  .where(Booking.learner_id == user.id).order_by(Payment.id.desc()).limit(100))
    return {"receipts": [payment_json(p, user) for p in payments]}


@bp.get("/api/v1/payments/earnings")
@auth_required
def api_earnings():
    user = _viewer()
    currency = viewer_currency(user)
    return {"balances": ledger.mentor_balances(user.id), "currency": currency,
            "totals": ledger.mentor_balances_in(user.id, currency)}


class PaymentSettingsIn(Schema):
    platform_fee_percent = Float(validate=Range(0, 100))
    cutoff_hours = Integer(validate=Range(0, 720))
    late_refund_percent = Integer(validate=Range(0, 100))


def _payment_settings() -> dict:
    return {"platform_fee_percent": config.platform_fee_basis_points() / 100, **config.refund_policy()}


@bp.get("/api/v1/payments/settings")
@admin_required
def api_settings():
    """The platform fee and the refund policy (admin)."""
    return _payment_settings()


@bp.put("/api/v1/payments/settings")
@admin_required
@bp.input(PaymentSettingsIn, arg_name="data")
def api_put_settings(data: dict):
    from api.bookings.transaction import serialised_write

    with serialised_write():
        config.update(_viewer().id, **data)
    return _payment_settings()


@bp.get("/api/v1/payments/revenue")
@admin_required
def api_revenue():
    """Per day and currency: gross captured, platform fees, mentor earnings, refunds (from the ledger)."""
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for line in ledger.revenue_lines():
        row = totals.setdefault((line["at"].date().isoformat(), line["currency"]),
                                {"gross": 0, "fee": 0, "earnings": 0, "refund": 0})
        row[line["kind"]] += line["amount_minor"]
    return {"days": [{"day": day, "currency": cur, **row} for (day, cur), row in sorted(totals.items())]}


@bp.get("/api/v1/payments/price/<int:booking_id>")
@auth_required
def api_price(booking_id: int):
    booking = _own_booking(booking_id)
    return price_for_viewer(booking, _viewer())
