"""Prices in the viewer's currency, for search: the names search has always used, all from api.money
(one rate table, one conversion, one rounding rule, one format)."""
from __future__ import annotations

from api.money import (
    convert,
    exponent,
    format_money,
    fx_rates,
    major_text,
    parse_major,
    ratio,
    supported_currencies,
)

__all__ = ["convert_minor", "factor", "format_money", "major_text", "minor_digits", "parse_major", "rate_codes",
           "supported_currencies"]


def minor_digits(currency: str) -> int:
    return exponent(currency)


def rate_codes() -> tuple[str, ...]:
    """Every currency with a rate (what a mentor's price may be in)."""
    return tuple(fx_rates())


def factor(from_currency: str, to_currency: str) -> float:
    """Approximately: multiply minor units of from_currency by this to get minor units of to_currency (for
    indexes and pre-filters only; amounts people see come from convert_minor)."""
    exact = ratio(from_currency, to_currency)
    return float(exact) if exact is not None else float(ratio("USD", to_currency))


def convert_minor(amount_minor: int, from_currency: str, to_currency: str) -> int:
    """money.convert; an amount in a currency without a rate is taken as US dollars."""
    converted = convert(amount_minor, from_currency, to_currency)
    return converted if converted is not None else convert(amount_minor, "USD", to_currency)
