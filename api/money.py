"""Money: integer minor units plus an ISO currency. The one place that knows exponents, rates, conversion,
rounding and formatting; search, profiles, bookings, checkout, receipts, refunds and earnings all use it.

Conversion rule (one rule, everywhere): an amount in minor units of one currency becomes minor units of
another by the exact ratio of the two rates (units per 1 USD, as decimals; no binary floats), rounded once,
half away from zero, to the target's minor unit. `sql_convert` is the same rule in SQL (integer arithmetic),
so a search filter agrees with the card it shows to the cent.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

import sqlalchemy as sa
from flask import g

from api.extensions import db
from api.settings import current_settings
from api.tables import ModelSetting

ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}
RATES_SETTING = "payments.fx_rates"  # the admin's override (a ModelSetting), else settings.payments_fx_rates

# Default currency of a new account: from the time zone where it says more than UTC, else the phone's country.
ZONE_CURRENCY = {"Europe/London": "GBP", "Europe/Belfast": "GBP", "Europe/Guernsey": "GBP", "Europe/Isle_of_Man": "GBP",
                 "Europe/Jersey": "GBP", "Asia/Kolkata": "INR", "Asia/Calcutta": "INR"}
EURO_ZONES = frozenset(f"Europe/{city}" for city in (
    "Amsterdam", "Andorra", "Athens", "Berlin", "Bratislava", "Brussels", "Busingen", "Dublin", "Helsinki", "Lisbon",
    "Ljubljana", "Luxembourg", "Madrid", "Malta", "Mariehamn", "Monaco", "Paris", "Riga", "Rome", "San_Marino",
    "Tallinn", "Vatican", "Vienna", "Vilnius", "Zagreb")) | {"Atlantic/Canary", "Atlantic/Madeira", "Atlantic/Azores",
                                                            "Africa/Ceuta", "Asia/Nicosia", "Asia/Famagusta"}
PHONE_CURRENCY = {"+44": "GBP", "+91": "INR", **{prefix: "EUR" for prefix in (
    "+30", "+31", "+32", "+33", "+34", "+39", "+43", "+49", "+351", "+352", "+353", "+356", "+357", "+358", "+370",
    "+371", "+372", "+376", "+377", "+378", "+385", "+386", "+421")}}
FALLBACK_CURRENCY = "USD"


# ---------------------------------------------------------------- currencies and rates

def exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL else 2


def supported_currencies() -> tuple[str, ...]:
    """The currencies people may choose (and mentors may price in): those with a rate in the settings."""
    return tuple(sorted(code.upper() for code in current_settings().payments_fx_rates))


def is_supported(currency: str | None) -> bool:
    return bool(currency) and currency.upper() in supported_currencies()


def fx_rates() -> dict[str, Decimal]:
    """Units of each currency per 1 USD: the settings' table updated by the admin's ModelSetting; read once
    per app context (a request, a job), so every amount of one page is converted at the same rates."""
    cached = g.get("_mentorhub_fx_rates")
    if cached is not None:
        return cached
    rates = {k.upper(): Decimal(str(v)) for k, v in current_settings().payments_fx_rates.items()}
    row = db.session.get(ModelSetting, RATES_SETTING)
    if row is not None and isinstance(row.value, dict):
        for code, value in row.value.items():
            try:
                rate = Decimal(str(value))
            except InvalidOperation:
                continue
            if rate.is_finite() and rate > 0:
                rates[code.upper()] = rate
    g._mentorhub_fx_rates = rates
    return rates


def rates_key() -> tuple:
    """The rates as a hashable value (part of cache keys of anything built from them)."""
    return tuple(sorted((code, str(rate)) for code, rate in fx_rates().items()))


def _minor_per_usd(currency: str, rates: dict[str, Decimal]) -> Fraction:
    return Fraction(rates[currency]) * 10 ** exponent(currency)


def ratio(source: str, target: str) -> Fraction | None:
    """Target minor units per source minor unit (exact), or None without a rate for both."""
    source, target = source.upper(), target.upper()
    if source == target:
        return Fraction(1)
    rates = fx_rates()
    if source not in rates or target not in rates:
        return None
    return _minor_per_usd(target, rates) / _minor_per_usd(source, rates)


# ---------------------------------------------------------------- the rounding rule and conversion

def round_half_up(value: Fraction) -> int:
    """The one rounding rule: to the nearest whole minor unit, halves away from zero."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    return sign * ((2 * magnitude.numerator + magnitude.denominator) // (2 * magnitude.denominator))


def convert(amount_minor: int, from_currency: str, to_currency: str) -> int | None:
    """The amount in another currency (exact ratio, rounded once by round_half_up), or None without a rate."""
    factor = ratio(from_currency, to_currency)
    if factor is None:
        return None
    return round_half_up(amount_minor * factor)


def price_in(amount_minor: int, currency: str, target: str | None) -> tuple[int, str]:
    """(amount, currency) as a viewer whose currency is `target` sees and pays it; unchanged without a rate."""
    if not target:
        return int(amount_minor), currency.upper()
    converted = convert(amount_minor, currency, target)
    if converted is None:
        return int(amount_minor), currency.upper()
    return converted, target.upper()


def share(amount_minor: int, part: int, whole: int) -> int:
    """amount x part / whole, rounded by the one rule (e.g. a charged amount back into the list currency)."""
    if whole == 0:
        return 0
    return round_half_up(Fraction(amount_minor * part, whole))


def percent_of(amount_minor: int, basis_points: int) -> int:
    """basis_points/10000 of an amount, half-up (1500 bp of 5000 = 750)."""
    return round_half_up(Fraction(amount_minor * basis_points, 10000))


def sql_convert(amount, currency, target: str, dialect: str):
    """SQL for convert(amount, currency, target) of non-negative amounts: exact integer arithmetic, same rounding
    (PostgreSQL in numeric with div(), SQLite in 64-bit integers)."""
    rates = fx_rates()
    target = target.upper()
    numerators, denominators = {}, {}
    for code in rates:
        factor = ratio(code, target)
        numerators[code], denominators[code] = factor.numerator, factor.denominator
    big = sa.Numeric if dialect == "postgresql" else sa.BigInteger
    num = sa.case({c: sa.literal(n, big) for c, n in numerators.items()}, value=currency, else_=sa.literal(0, big))
    den = sa.case({c: sa.literal(d, big) for c, d in denominators.items()}, value=currency, else_=sa.literal(1, big))
    top = 2 * sa.cast(amount, big) * num + den
    if dialect == "postgresql":
        return sa.cast(sa.func.div(top, 2 * den), sa.BigInteger)
    return top // (2 * den)  # integer division (SQLAlchemy 2: / would be true division)


# ---------------------------------------------------------------- reading and writing amounts

def format_money(amount_minor: int, currency: str) -> str:
    """1234, "EUR" -> "€12.34"; unknown currencies keep their code ("12.34 CHF")."""
    currency = currency.upper()
    places = exponent(currency)
    major = Decimal(amount_minor).scaleb(-places)
    sign = "-" if amount_minor < 0 else ""
    text = f"{abs(major):,.{places}f}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def major_text(amount_minor: int, currency: str) -> str:
    """4950, EUR -> '49.50'; whole amounts drop the cents ('50'), for form fields."""
    major = Decimal(amount_minor).scaleb(-exponent(currency))
    return f"{major:.0f}" if major == major.to_integral_value() else f"{major:.{exponent(currency)}f}"


def parse_major(text: str, currency: str) -> int:
    """'49.5' in EUR -> 4950 minor units; ValueError for anything that is not a non-negative amount."""
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, AttributeError):
        raise ValueError("not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError("must be a non-negative amount")
    if value > Decimal(10) ** 9:
        raise ValueError("too large")
    return int(value.scaleb(exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------- a person's currency

def default_currency(timezone: str | None = None, phone: str | None = None) -> str:
    """A new account's currency: Europe/London -> GBP, Asia/Kolkata -> INR, euro-zone zones -> EUR; where the
    zone is UTC (says nothing), the phone's country code; else USD. Only supported currencies."""
    found = None
    if timezone:
        found = ZONE_CURRENCY.get(timezone) or ("EUR" if timezone in EURO_ZONES else None)
    if found is None and (timezone or "UTC") in ("UTC", "Etc/UTC") and phone:
        for length in (4, 3, 2):
            found = PHONE_CURRENCY.get(phone[:length])
            if found:
                break
    found = found or FALLBACK_CURRENCY
    try:
        supported = supported_currencies()
    except RuntimeError:  # no app: the settings' default table holds all of these
        return found
    return found if found in supported else (FALLBACK_CURRENCY if FALLBACK_CURRENCY in supported else supported[0])


def check_currency(value) -> str:
    """A supported currency code (any case) -> upper case; ValueError naming the choices otherwise."""
    code = str(value or "").strip().upper()
    if code not in supported_currencies():
        raise ValueError(f"Choose one of: {', '.join(supported_currencies())}.")
    return code


def viewer_currency(user) -> str:
    """The currency a viewer sees prices in: their preference, else USD (anonymous visitors)."""
    code = (getattr(user, "currency", None) or "").upper() if user is not None and getattr(
        user, "is_authenticated", False) else ""
    return code if code and is_supported(code) else FALLBACK_CURRENCY
