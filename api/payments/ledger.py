"""The ledger: signed entries per account, written once each (unique entry_key), and the balances read from it.

    capture C (fee F):  learner_payments +C, platform_fees +F, mentor_pending +(C-F)
    refund R:           refunds +R, platform_fees -f, mentor_pending -(R-f)   (f keeps the fee at F x what is kept)
    settle (ended):     mentor_pending -x, mentor_available +x               (x: what is left pending)
    payout P:           mentor_available -P, mentor_paid_out +P
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select

from api.extensions import db
from api.money import convert, share
from api.tables import Booking, LedgerEntry, Payment, PaymentCheckout, Topic

MENTOR_ACCOUNTS = ("mentor_pending", "mentor_available", "mentor_paid_out")


def _post(key: str, account: str, amount: int, payment: Payment, memo: str, at: datetime) -> None:
    if amount == 0:
        return
    if db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.entry_key == key)) is not None:
        return  # already booked (the unique constraint guards concurrent writers)
    booking = payment.booking
    db.session.add(LedgerEntry(entry_key=key, account=account, amount_minor=amount, currency=payment.currency,
                               booking_id=booking.id, payment_id=payment.id, mentor_id=booking.mentor_id,
                               memo=memo[:200], created_at=at))


def _balance(payment_id: int, account: str) -> int:
    return int(db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
        LedgerEntry.payment_id == payment_id, LedgerEntry.account == account)) or 0)


def book_capture(payment: Payment, amount: int, fee: int, key: str, at: datetime) -> None:
    _post(f"{key}:gross", "learner_payments", amount, payment, f"Payment for booking {payment.booking_id}", at)
    _post(f"{key}:fee", "platform_fees", fee, payment, "Platform fee", at)
    _post(f"{key}:earning", "mentor_pending", amount - fee, payment, "Mentor earning (pending)", at)
    db.session.flush()


def book_refund(payment: Payment, amount: int, fee_after: int, key: str, at: datetime) -> None:
    """A refund of `amount`; the platform keeps `fee_after` in total on this payment from now on."""
    fee_now = _balance(payment.id, "platform_fees")
    fee_back = fee_now - fee_after
    _post(f"{key}:refund", "refunds", amount, payment, f"Refund for booking {payment.booking_id}", at)
    _post(f"{key}:fee", "platform_fees", -fee_back, payment, "Platform fee returned with the refund", at)
    _post(f"{key}:earning", "mentor_pending", -(amount - fee_back), payment, "Mentor earning returned with the refund", at)
    db.session.flush()


def book_settlement(payment: Payment, at: datetime) -> int:
    """The session is over: what the mentor still has pending on this payment becomes available."""
    pending = _balance(payment.id, "mentor_pending")
    _post(f"settle:{payment.id}:out", "mentor_pending", -pending, payment, "Session ended", at)
    _post(f"settle:{payment.id}:in", "mentor_available", pending, payment, "Available for payout", at)
    db.session.flush()
    return pending


def mentor_balances(mentor_id: int) -> dict[str, dict[str, int]]:
    """{currency: {"pending", "available", "paid_out"}} for a mentor."""
    rows = db.session.execute(select(LedgerEntry.currency, LedgerEntry.account, func.sum(LedgerEntry.amount_minor))
                              .where(LedgerEntry.mentor_id == mentor_id, LedgerEntry.account.in_(MENTOR_ACCOUNTS))
                              .group_by(LedgerEntry.currency, LedgerEntry.account))
    balances: dict[str, dict[str, int]] = defaultdict(lambda: {"pending": 0, "available": 0, "paid_out": 0})
    for currency, account, total in rows:
        balances[currency][account.removeprefix("mentor_")] = int(total or 0)
    return dict(balances)


def _in_currency(amount: int, currency: str, target: str, list_price: int | None, list_currency: str | None,
                 charged: int | None) -> int:
    """A mentor's ledger amount in their own currency: at the rate fixed when the learner paid where the price
    was in that currency (amount x list price / amount charged), else by money.convert at today's rates."""
    if currency == target:
        return amount
    if list_currency == target and list_price is not None and charged:
        return share(amount, list_price, charged)
    converted = convert(amount, currency, target)
    return amount if converted is None else converted


def _mentor_rows(mentor_id: int, limit: int | None = None):
    query = (select(LedgerEntry, PaymentCheckout.list_price_minor, PaymentCheckout.list_currency, Payment.amount_minor)
             .outerjoin(Payment, Payment.id == LedgerEntry.payment_id)
             .outerjoin(PaymentCheckout, PaymentCheckout.payment_id == LedgerEntry.payment_id)
             .where(LedgerEntry.mentor_id == mentor_id, LedgerEntry.account.in_(MENTOR_ACCOUNTS))
             .order_by(LedgerEntry.id.desc()))
    return db.session.execute(query.limit(limit) if limit else query).all()


def mentor_balances_in(mentor_id: int, currency: str) -> dict[str, int]:
    """{"pending", "available", "paid_out"} of a mentor, every entry in `currency` (their own)."""
    currency = currency.upper()
    totals = {"pending": 0, "available": 0, "paid_out": 0}
    for entry, list_price, list_currency, charged in _mentor_rows(mentor_id):
        totals[entry.account.removeprefix("mentor_")] += _in_currency(
            entry.amount_minor, entry.currency, currency, list_price, list_currency, charged)
    return totals


def mentor_entries_in(mentor_id: int, currency: str, limit: int = 100) -> list[dict]:
    """The latest movements, each with its amount in `currency` (and as booked, when that differs)."""
    currency = currency.upper()
    return [{"entry": entry, "created_at": entry.created_at, "memo": entry.memo, "account": entry.account,
             "amount_minor": _in_currency(entry.amount_minor, entry.currency, currency, list_price, list_currency,
                                          charged),
             "currency": currency, "booked_minor": entry.amount_minor, "booked_currency": entry.currency}
            for entry, list_price, list_currency, charged in _mentor_rows(mentor_id, limit)]


REVENUE_KINDS = {"learner_payments": "gross", "platform_fees": "fee", "refunds": "refund"}


def revenue_lines(start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """Money lines for the admin's revenue reports (dashboards.revenue's shape: at, currency, topic, kind,
    amount_minor), straight from the ledger: gross, fee (net of returned fees), refund, and earnings
    (the mentors' share, net of refunds)."""
    query = (select(LedgerEntry.created_at, LedgerEntry.currency, Topic.name, LedgerEntry.account,
                    LedgerEntry.amount_minor)
             .join(Booking, Booking.id == LedgerEntry.booking_id)
             .outerjoin(Topic, Topic.id == Booking.topic_id)
             .where(LedgerEntry.account.in_(list(REVENUE_KINDS) + ["mentor_pending"]),
                    ~LedgerEntry.entry_key.like("settle:%")))
    if start is not None:
        query = query.where(LedgerEntry.created_at >= start)
    if end is not None:
        query = query.where(LedgerEntry.created_at < end)
    lines = []
    for at, currency, topic, account, amount in db.session.execute(query.order_by(LedgerEntry.id)):
        kind = REVENUE_KINDS.get(account, "earnings")
        lines.append({"at": at, "currency": currency, "topic": topic or "(no topic)", "kind": kind,
                      "amount_minor": int(amount)})
    return lines
