"""Money as integer minor units plus an ISO currency: exponents, formatting, conversion for display and charging."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from flask import current_app

ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


def exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL else 2


def format_money(amount_minor: int, currency: str) -> str:
    """1234, "EUR" -> "€12.34"; unknown currencies keep their code."""
    currency = currency.upper()
    places = exponent(currency)
    major = Decimal(amount_minor).scaleb(-places)
    sign = "-" if amount_minor < 0 else ""
    text = f"{abs(major):,.{places}f}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def fx_rates() -> dict[str, float]:
    """Units of each currency per 1 USD: the admin's ModelSetting "payments.fx_rates", else the settings."""
    from api.extensions import db
    from api.tables import ModelSetting

    row = db.session.get(ModelSetting, "payments.fx_rates")
    if row is not None and isinstance(row.value, dict) and row.value:
        return {k.upper(): float(v) for k, v in row.value.items()}
    return {k.upper(): float(v) for k, v in current_app.config["MENTORHUB_SETTINGS"].payments_fx_rates.items()}


def convert(amount_minor: int, from_currency: str, to_currency: str) -> int | None:
    """The amount in another currency (half-up to its minor unit), or None without a rate for both."""
    source, target = from_currency.upper(), to_currency.upper()
    if source == target:
        return amount_minor
    rates = fx_rates()
    if source not in rates or target not in rates or rates[source] <= 0:
        return None
    major = Decimal(amount_minor).scaleb(-exponent(source))
    converted = major / Decimal(str(rates[source])) * Decimal(str(rates[target]))
    return int(converted.scaleb(exponent(target)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(amount_minor: int, basis_points: int) -> int:
    """basis_points/10000 of an amount, half-up (1500 bp of 5000 = 750)."""
    return (amount_minor * basis_points + 5000) // 10000
