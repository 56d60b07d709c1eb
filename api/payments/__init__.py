"""Payments: one gateway interface (Stripe, Razorpay, sandbox), the booking's money flow, webhooks,
reconciliation, the ledger, receipts and mentor earnings.

Importing the package registers the booking-transition hook (api.payments.service.on_booking_transition).
"""
from apiflask import APIBlueprint

bp = APIBlueprint("payments", __name__, tag="Payments")

from api.payments import routes, service, webhooks  # noqa: E402,F401
