"""Revenue: gross bookings, platform fees, mentor earnings and refunds, by period, currency and topic.

Input is one "money line" per row (columns `at`, `currency`, `topic`, `kind`, `amount_minor`), where
`kind` is one of KINDS; money stays in integer minor units and is never summed across currencies.
`lines_from_payments` builds the lines from captured payments and their refunds.
"""
from __future__ import annotations

import pandas as pd

from dashboards.periods import bucket

KINDS = ("gross", "fee", "earnings", "refund")
COLUMNS = {"gross": "gross_minor", "fee": "fee_minor", "earnings": "earnings_minor", "refund": "refunds_minor"}
LINE_COLUMNS = ["at", "currency", "topic", "kind", "amount_minor"]


def lines_from_payments(payments: pd.DataFrame, refunds: pd.DataFrame) -> pd.DataFrame:
    """Money lines from payments (at, currency, topic, captured_minor, platform_fee_minor) and refunds (at, currency, topic, amount_minor).

    Gross is the captured amount, the fee the platform's share, earnings the mentor's share
    (captured minus fee); refunds are shown on the day they were made.
    """
    frames = []
    if len(payments):
        p = payments.assign(captured_minor=payments["captured_minor"].astype("int64"),
                            platform_fee_minor=payments["platform_fee_minor"].astype("int64"))
        base = p[["at", "currency", "topic"]]
        frames += [base.assign(kind="gross", amount_minor=p["captured_minor"]),
                   base.assign(kind="fee", amount_minor=p["platform_fee_minor"]),
                   base.assign(kind="earnings", amount_minor=p["captured_minor"] - p["platform_fee_minor"])]
    if len(refunds):
        frames.append(refunds[["at", "currency", "topic"]].assign(kind="refund",
                                                                  amount_minor=refunds["amount_minor"].astype("int64")))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "amount_minor" else "object") for c in LINE_COLUMNS})
    lines = pd.concat(frames, ignore_index=True)
    lines["topic"] = lines["topic"].fillna("(no topic)")
    return lines[LINE_COLUMNS]


def _pivot(lines: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if lines.empty:
        return pd.DataFrame(columns=keys + list(COLUMNS.values()) + ["net_minor"])
    table = lines.pivot_table(index=keys, columns="kind", values="amount_minor", aggfunc="sum", fill_value=0)
    for kind in KINDS:
        if kind not in table.columns:
            table[kind] = 0
    table = table[list(KINDS)].astype("int64").rename(columns=COLUMNS).reset_index()
    table.columns.name = None
    table["net_minor"] = table["gross_minor"] - table["refunds_minor"]
    return table.sort_values(keys).reset_index(drop=True)


def revenue_by_period(lines: pd.DataFrame, period: str = "day", by_topic: bool = False) -> pd.DataFrame:
    """One row per period and currency (and topic): gross, fee, earnings, refunds and net (gross - refunds)."""
    lines = lines.assign(period=bucket(lines["at"], period)) if len(lines) else lines.assign(period=[])
    return _pivot(lines, ["period", "currency"] + (["topic"] if by_topic else []))


def revenue_by_topic(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per currency and topic over the whole range."""
    return _pivot(lines, ["currency", "topic"])


def revenue_totals(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per currency over the whole range."""
    return _pivot(lines, ["currency"])


MINOR_DIGITS = {"JPY": 0}  # every other currency of the app has 2 decimals


def format_minor(amount_minor: int, currency: str) -> str:
    """12345, "USD" -> "123.45 USD"; 12345, "JPY" -> "12,345 JPY" (exact: integer arithmetic, no floats)."""
    digits = MINOR_DIGITS.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, part = divmod(abs(int(amount_minor)), 10 ** digits)
    return f"{sign}{whole:,}{'.' + str(part).zfill(digits) if digits else ''} {currency}"


def decimal_string(amount_minor: int, currency: str) -> str:
    """The amount in major units for CSV: 12345 USD -> "123.45" (no thousands separator)."""
    digits = MINOR_DIGITS.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, part = divmod(abs(int(amount_minor)), 10 ** digits)
    return f"{sign}{whole}{'.' + str(part).zfill(digits) if digits else ''}"
