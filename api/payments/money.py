"""Money for payments: the names from api.money (the one place for rates, conversion, rounding and format)."""
from api.money import (  # noqa: F401
    convert,
    exponent,
    format_money,
    fx_rates,
    percent_of,
    price_in,
    share,
    viewer_currency,
)
