"""Showing prices in the learner's currency.

DEMO RATES, NOT MARKET DATA: the fixed table below converts between the currencies mentors may
charge in. It is good enough to compare and filter prices in a demo; a real deployment replaces
it with a daily rates feed. Bookings are always charged in the mentor's own currency.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# US dollars per one unit of the currency (fixed demo rates, labelled as such in the UI).
DEMO_USD_PER_UNIT: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "INR": 0.012,
    "CAD": 0.73,
    "AUD": 0.66,
    "JPY": 0.0067,
}
# Digits after the decimal point of each currency's minor unit.
MINOR_DIGITS: dict[str, int] = {"JPY": 0}
SYMBOLS: dict[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}

SUPPORTED_CURRENCIES = tuple(DEMO_USD_PER_UNIT)


def minor_digits(currency: str) -> int:
    return MINOR_DIGITS.get(currency, 2)


def factor(from_currency: str, to_currency: str) -> float:
    """Multiply an amount in from_currency minor units by this to get to_currency minor units."""
    from_rate = DEMO_USD_PER_UNIT.get(from_currency, 1.0)
    to_rate = DEMO_USD_PER_UNIT[to_currency]
    return from_rate / to_rate * 10 ** (minor_digits(to_currency) - minor_digits(from_currency))


def convert_minor(amount_minor: int, from_currency: str, to_currency: str) -> int:
    """Convert minor units; rounds half up exactly as the search query's SQL does (floor(x + 0.5))."""
    if from_currency == to_currency:
        return int(amount_minor)
    return math.floor(amount_minor * factor(from_currency, to_currency) + 0.5)


def parse_major(text: str, currency: str) -> int:
    """'49.5' in EUR -> 4950 minor units; ValueError for anything that is not a non-negative amount."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError("not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError("must be a non-negative amount")
    if value > Decimal(10) ** 9:
        raise ValueError("too large")
    digits = minor_digits(currency)
    return int((value * (Decimal(10) ** digits)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_money(amount_minor: int, currency: str) -> str:
    """4950, EUR -> '€49.50'; whole amounts drop the cents: '€50'."""
    digits = minor_digits(currency)
    major = Decimal(amount_minor) / (Decimal(10) ** digits)
    text = f"{major:,.0f}" if major == major.to_integral_value() else f"{major:,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def major_text(amount_minor: int, currency: str) -> str:
    """4950, EUR -> '49.50' (for form fields)."""
    digits = minor_digits(currency)
    major = Decimal(amount_minor) / (Decimal(10) ** digits)
    return f"{major:.0f}" if major == major.to_integral_value() else f"{major:.{digits}f}"
