"""One payment gateway interface, three implementations: Stripe, Razorpay and the embedded sandbox.

Every outgoing create, capture, release and refund carries the caller's idempotency key (derived from
the booking and the operation), so a retry after a lost response never charges or refunds twice.
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import requests

from api.extensions import db
from api.settings import Settings, current_settings
from api.tables import Payment, PaymentCheckout

# what a provider says about a payment, in our words
CREATED, AUTHORIZED, CAPTURED, RELEASED, FAILED = "created", "authorized", "captured", "released", "failed"


@dataclass(frozen=True)
class ProviderPayment:
    status: str  # created | authorized | captured | released | failed
    amount_minor: int
    currency: str
    captured_minor: int = 0
    charge_ref: str | None = None


@dataclass(frozen=True)
class CheckoutStart:
    order_ref: str
    client: dict = field(default_factory=dict)  # what the pay page needs (never a secret key)


class GatewayError(Exception):
    """A provider call that did not give an answer we can act on.

    `final` errors (the provider refused the request for good) fail the operation; the others
    (timeouts, 5xx, connection errors: the request may or may not have happened) are retried
    later with the same idempotency key.
    """

    def __init__(self, message: str, final: bool = False):
        super().__init__(message)
        self.final = final


class Gateway(ABC):
    name: str
    label: str

    def __init__(self, settings: Settings):
        self.settings = settings

    @abstractmethod
    def create_checkout(self, *, amount_minor: int, currency: str, booking_id: int, payment_ref: str,
                        idempotency_key: str, description: str) -> CheckoutStart: ...

    @abstractmethod
    def client_params(self, order_ref: str) -> dict: ...

    @abstractmethod
    def fetch(self, order_ref: str, charge_ref: str | None) -> ProviderPayment: ...

    @abstractmethod
    def capture(self, order_ref: str, charge_ref: str | None, amount_minor: int, currency: str,
                idempotency_key: str) -> str: ...

    @abstractmethod
    def release(self, order_ref: str, charge_ref: str | None, idempotency_key: str) -> str: ...

    @abstractmethod
    def refund(self, order_ref: str, charge_ref: str | None, amount_minor: int, currency: str,
               idempotency_key: str) -> str: ...


# ---------------------------------------------------------------- Stripe


class StripeGateway(Gateway):
    """PaymentIntents with manual capture: authorised when the learner pays, captured when the mentor accepts."""

    name, label = "stripe", "Stripe"

    def __init__(self, settings: Settings):
        super().__init__(settings)
        import stripe  # lazy: the Stripe SDK costs 0.6 s of start-up; only a configured Stripe gateway needs it

        self._stripe = stripe
        options = {}
        if settings.stripe_api_base:
            options["base_addresses"] = {"api": settings.stripe_api_base.rstrip("/")}
        self.client = stripe.StripeClient(
            settings.stripe_secret_key, max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=settings.payments_http_timeout_seconds), **options)

    def _call(self, fn, *args, **kwargs):
        stripe = self._stripe
        try:
            return fn(*args, **kwargs)
        except (stripe.InvalidRequestError, stripe.CardError, stripe.AuthenticationError,
                stripe.PermissionError, stripe.IdempotencyError) as error:
            raise GatewayError(f"Stripe refused: {error.user_message or error}", final=True) from error
        except stripe.StripeError as error:  # connection, rate limit, 5xx, idempotency conflict in flight
            raise GatewayError(f"Stripe unavailable: {error}") from error

    def create_checkout(self, *, amount_minor, currency, booking_id, payment_ref, idempotency_key, description):
        intent = self._call(self.client.v1.payment_intents.create, params={
            "amount": amount_minor, "currency": currency.lower(), "capture_method": "manual",
            "description": description, "metadata": {"booking_id": str(booking_id), "payment_ref": payment_ref},
            "automatic_payment_methods": {"enabled": True},
        }, options={"idempotency_key": idempotency_key})
        return CheckoutStart(intent.id, {"client_secret": intent.client_secret})

    def client_params(self, order_ref):
        intent = self._call(self.client.v1.payment_intents.retrieve, order_ref)
        return {"publishable_key": self.settings.stripe_publishable_key, "client_secret": intent.client_secret}

    STATUS = {"requires_capture": AUTHORIZED, "succeeded": CAPTURED, "canceled": RELEASED}

    def fetch(self, order_ref, charge_ref):
        intent = self._call(self.client.v1.payment_intents.retrieve, order_ref)
        return self.from_intent(intent)

    @classmethod
    def from_intent(cls, intent) -> ProviderPayment:
        if hasattr(intent, "to_dict"):
            intent = intent.to_dict()
        status = cls.STATUS.get(intent["status"], CREATED)
        return ProviderPayment(status, int(intent["amount"]), str(intent["currency"]).upper(),
                               int(intent.get("amount_received") or 0), intent["id"])

    def capture(self, order_ref, charge_ref, amount_minor, currency, idempotency_key):
        intent = self._call(self.client.v1.payment_intents.capture, order_ref,
                            params={"amount_to_capture": amount_minor}, options={"idempotency_key": idempotency_key})
        return intent.id

    def release(self, order_ref, charge_ref, idempotency_key):
        try:
            intent = self._call(self.client.v1.payment_intents.cancel, order_ref,
                                params={"cancellation_reason": "abandoned"}, options={"idempotency_key": idempotency_key})
        except GatewayError as error:
            if error.final and self.fetch(order_ref, None).status == RELEASED:
                return order_ref  # cancelled before (e.g. by Stripe when the authorisation lapsed)
            raise
        return intent.id

    def refund(self, order_ref, charge_ref, amount_minor, currency, idempotency_key):
        refund = self._call(self.client.v1.refunds.create, params={
            "payment_intent": order_ref, "amount": amount_minor, "metadata": {"idempotency_key": idempotency_key},
        }, options={"idempotency_key": idempotency_key})
        return refund.id


# ---------------------------------------------------------------- Razorpay


class RazorpayGateway(Gateway):
    """Orders paid through Razorpay Checkout, captured on acceptance; refunds with X-Refund-Idempotency."""

    name, label = "razorpay", "Razorpay"

    def __init__(self, settings: Settings):
        super().__init__(settings)
        import razorpay  # lazy: the Razorpay SDK costs 0.25 s of start-up; only a Razorpay gateway needs it

        options = {"base_url": settings.razorpay_api_base.rstrip("/")} if settings.razorpay_api_base else {}
        self.client = razorpay.Client(auth=(settings.razorpay_key_id, settings.razorpay_key_secret), **options)
        self._errors = razorpay.errors

    def _call(self, fn, *args, **kwargs):
        kwargs.setdefault("timeout", self.settings.payments_http_timeout_seconds)
        try:
            return fn(*args, **kwargs)
        except (self._errors.BadRequestError, self._errors.GatewayError) as error:
            raise GatewayError(f"Razorpay refused: {error}", final=True) from error
        except (self._errors.ServerError, requests.RequestException, ValueError) as error:
            raise GatewayError(f"Razorpay unavailable: {error}") from error

    def create_checkout(self, *, amount_minor, currency, booking_id, payment_ref, idempotency_key, description):
        # Orders have no idempotency header: the receipt carries the key, and one order per payment row is kept
        order = self._call(self.client.order.create, data={
            "amount": amount_minor, "currency": currency.upper(), "receipt": idempotency_key[:40],
            "payment_capture": 0, "notes": {"booking_id": str(booking_id), "payment_ref": payment_ref}})
        return CheckoutStart(order["id"], self.client_params(order["id"]))

    def client_params(self, order_ref):
        return {"key_id": self.settings.razorpay_key_id, "order_id": order_ref}

    STATUS = {"authorized": AUTHORIZED, "captured": CAPTURED, "refunded": CAPTURED, "failed": FAILED}

    def fetch(self, order_ref, charge_ref):
        order = self._call(self.client.order.fetch, order_ref)
        payments = self._call(self.client.order.payments, order_ref).get("items", [])
        best = None
        for item in payments:  # a learner may have tried several times: the furthest-along attempt counts
            if best is None or _RANK.get(self.STATUS.get(item["status"], CREATED), 0) > \
                    _RANK.get(self.STATUS.get(best["status"], CREATED), 0):
                best = item
        if best is None:
            return ProviderPayment(CREATED, int(order["amount"]), order["currency"].upper())
        return self.from_payment(best)

    @classmethod
    def from_payment(cls, item: dict) -> ProviderPayment:
        status = cls.STATUS.get(item.get("status"), CREATED)
        captured = int(item["amount"]) if item.get("captured") or status == CAPTURED else 0
        return ProviderPayment(status, int(item["amount"]), str(item["currency"]).upper(), captured, item["id"])

    def capture(self, order_ref, charge_ref, amount_minor, currency, idempotency_key):
        if not charge_ref:
            raise GatewayError("Razorpay: no payment id to capture", final=True)
        try:
            payment = self._call(self.client.payment.capture, charge_ref, amount_minor, {"currency": currency.upper()})
        except GatewayError as error:  # "already captured" after a lost response is a success
            if error.final and self.from_payment(self._call(self.client.payment.fetch, charge_ref)).status == CAPTURED:
                return charge_ref
            raise
        return payment["id"]

    def release(self, order_ref, charge_ref, idempotency_key):
        # Razorpay has no void: an authorised payment that is never captured is refunded to the learner
        # automatically by Razorpay; nothing to call.
        return charge_ref or order_ref

    def refund(self, order_ref, charge_ref, amount_minor, currency, idempotency_key):
        if not charge_ref:
            raise GatewayError("Razorpay: no payment id to refund", final=True)
        refund = self._call(self.client.payment.refund, charge_ref,
                            {"amount": amount_minor, "receipt": idempotency_key[:40],
                             "notes": {"idempotency_key": idempotency_key}},
                            headers={"X-Refund-Idempotency": idempotency_key})
        return refund["id"]


# ---------------------------------------------------------------- sandbox


class SandboxGateway(Gateway):
    """The embedded default: no money moves. Its "provider" record is the checkout row's provider_status,
    written in its own transaction before our books are updated, just as a real provider's would be."""

    name, label = "sandbox", "Sandbox (test mode, no real money)"
    DECLINED_CARDS = frozenset({"4000000000000002"})

    @staticmethod
    def _ref(prefix: str, key: str) -> str:
        return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:20]}"

    def create_checkout(self, *, amount_minor, currency, booking_id, payment_ref, idempotency_key, description):
        return CheckoutStart(self._ref("sbx_pi", idempotency_key), {})

    def client_params(self, order_ref):
        return {"sandbox": True}

    def fetch(self, order_ref, charge_ref):
        checkout = db.session.query(PaymentCheckout).filter_by(order_ref=order_ref).one()
        payment = db.session.get(Payment, checkout.payment_id)
        status = checkout.provider_status if checkout.provider_status in _RANK else CREATED
        return ProviderPayment(status, payment.amount_minor, payment.currency,
                               payment.amount_minor if status == CAPTURED else 0, checkout.charge_ref)

    def capture(self, order_ref, charge_ref, amount_minor, currency, idempotency_key):
        return self._ref("sbx_ch", idempotency_key)

    def release(self, order_ref, charge_ref, idempotency_key):
        return self._ref("sbx_void", idempotency_key)

    def refund(self, order_ref, charge_ref, amount_minor, currency, idempotency_key):
        return self._ref("sbx_re", idempotency_key)


_RANK = {CREATED: 0, FAILED: 0, AUTHORIZED: 1, CAPTURED: 2, RELEASED: 3}
GATEWAYS = {cls.name: cls for cls in (StripeGateway, RazorpayGateway, SandboxGateway)}


def configured(name: str, settings: Settings | None = None) -> bool:
    settings = settings or current_settings()
    if name == "stripe":
        return bool(settings.stripe_secret_key)
    if name == "razorpay":
        return bool(settings.razorpay_key_id and settings.razorpay_key_secret)
    return name == "sandbox"


def name_for_currency(currency: str, settings: Settings | None = None) -> str:
    """settings.payments_gateway when forced; auto: Razorpay for INR, Stripe otherwise, sandbox without keys."""
    settings = settings or current_settings()
    if settings.payments_gateway != "auto":
        return settings.payments_gateway
    preferred = "razorpay" if currency.upper() == "INR" else "stripe"
    if configured(preferred, settings):
        return preferred
    other = "stripe" if preferred == "razorpay" else "razorpay"
    if other == "stripe" and configured("stripe", settings):
        return "stripe"  # Stripe takes INR too when Razorpay has no keys
    return "sandbox"


def gateway(name: str) -> Gateway:
    return GATEWAYS[name](current_settings())
