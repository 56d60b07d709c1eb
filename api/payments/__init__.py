"""Payments: one gateway interface (Stripe, Razorpay, sandbox), the booking's money flow, webhooks,
reconciliation, the ledger, receipts and mentor earnings.

The service registers its booking-transition hook (api.payments.service.on_booking_transition) when imported.
"""
from api.payments.api import api_bp
from api.payments.routes import bp

__all__ = ["api_bp", "bp"]
