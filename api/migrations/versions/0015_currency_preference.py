"""One currency per person: bookings keep what the learner is charged; accounts get their currency

Revision ID: 0015_currency_preference
Revises: 0014_job_leases

- `bookings.charge_minor` / `charge_currency`: the price converted into the learner's currency when the
  session was requested (api.money.convert); checkout charges exactly this.
- `users.currency` existed but nobody could choose it, so every account still on the column's default (USD)
  gets the default for its time zone, or (zone UTC) its phone's country (api.money.default_currency).
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0015_currency_preference"
down_revision = "0014_job_leases"
branch_labels = None
depends_on = None

# the mapping of api.money.default_currency when this migration was written (migrations are frozen)
ZONES = {"GBP": ("Europe/London", "Europe/Belfast", "Europe/Guernsey", "Europe/Isle_of_Man", "Europe/Jersey"),
         "INR": ("Asia/Kolkata", "Asia/Calcutta"),
         "EUR": tuple(f"Europe/{city}" for city in (
             "Amsterdam", "Andorra", "Athens", "Berlin", "Bratislava", "Brussels", "Busingen", "Dublin", "Helsinki",
             "Lisbon", "Ljubljana", "Luxembourg", "Madrid", "Malta", "Mariehamn", "Monaco", "Paris", "Riga", "Rome",
             "San_Marino", "Tallinn", "Vatican", "Vienna", "Vilnius", "Zagreb"))
         + ("Atlantic/Canary", "Atlantic/Madeira", "Atlantic/Azores", "Africa/Ceuta", "Asia/Nicosia", "Asia/Famagusta")}
PHONES = {"GBP": ("+44",), "INR": ("+91",),
          "EUR": ("+30", "+31", "+32", "+33", "+34", "+39", "+43", "+49", "+351", "+352", "+353", "+356", "+357",
                  "+358", "+370", "+371", "+372", "+376", "+377", "+378", "+385", "+386", "+421")}

# search's price index (0009) used its own demo rates; prices now convert by settings.payments_fx_rates (units
# per USD; frozen copy of the default): US cents per minor unit of each currency. The app re-syncs others.
RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "INR": 83.0, "JPY": 150.0, "CAD": 1.36, "AUD": 1.52}
USD_MINOR_PER_MINOR = {code: (100 if code == "JPY" else 1) / rate for code, rate in RATES.items()}

users = sa.table("users", sa.column("currency", sa.String), sa.column("timezone", sa.String),
                 sa.column("phone", sa.String))


OLD_USD_MINOR_PER_MINOR = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "INR": 0.012, "CAD": 0.73, "AUD": 0.66,
                           "JPY": 0.0067 * 100}


def _search_perf():
    """0009's helpers (the parameter lookups of its triggers)."""
    path = Path(__file__).with_name("0009_search_perf.py")
    spec = importlib.util.spec_from_file_location("_mentorhub_0009_search_perf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _usd(perf, price_minor: str, currency: str, rates: dict[str, float]) -> str:
    frozen = "CASE " + currency + " " + " ".join(f"WHEN '{code}' THEN {rate!r}" for code, rate in rates.items()) \
        + " ELSE 1.0 END"
    return f"{price_minor} * " + perf._param(f"'usd_minor:' || {currency}", frozen)


def _retrigger(rates: dict[str, float]) -> None:
    """The triggers that keep price_usd_minor fall back on these rates when the parameter table is empty."""
    perf = _search_perf()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
        CREATE OR REPLACE FUNCTION mentor_ranking_profile_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.bayes_score := {perf._bayes('NEW.rating_sum', 'NEW.rating_count')};
          NEW.price_usd_minor := {_usd(perf, 'NEW.price_minor', 'NEW.currency', rates)};
          RETURN NEW;
        END $$
        """)
        return
    refresh = (f"UPDATE mentor_profiles SET bayes_score = {perf._bayes('NEW.rating_sum', 'NEW.rating_count')}, "
               f"price_usd_minor = {_usd(perf, 'NEW.price_minor', 'NEW.currency', rates)} WHERE user_id = NEW.user_id;")
    op.execute("DROP TRIGGER IF EXISTS mentor_ranking_profile_insert")
    op.execute("DROP TRIGGER IF EXISTS mentor_ranking_profile_update")
    op.execute(f"CREATE TRIGGER mentor_ranking_profile_insert AFTER INSERT ON mentor_profiles BEGIN {refresh} END")
    op.execute("CREATE TRIGGER mentor_ranking_profile_update AFTER UPDATE OF rating_sum, rating_count, price_minor, "
               f"currency ON mentor_profiles BEGIN {refresh} END")


def _reprice(rates: dict[str, float]) -> None:
    _retrigger(rates)
    params = sa.table("search_ranking_params", sa.column("name", sa.String), sa.column("value", sa.Float))
    for code, rate in rates.items():
        op.execute(params.update().where(params.c.name == f"usd_minor:{code}").values(value=float(rate)))
    op.execute("UPDATE mentor_profiles SET price_usd_minor = price_minor * coalesce((SELECT value FROM "
               "search_ranking_params WHERE name = 'usd_minor:' || mentor_profiles.currency), 1.0)")


def upgrade():
    _reprice(USD_MINOR_PER_MINOR)
    op.add_column("bookings", sa.Column("charge_minor", sa.Integer(), nullable=True))
    op.add_column("bookings", sa.Column("charge_currency", sa.String(3), nullable=True))
    for currency, zones in ZONES.items():
        op.execute(users.update().where(users.c.currency == "USD", users.c.timezone.in_(zones))
                   .values(currency=currency))
    for currency, prefixes in PHONES.items():  # where the time zone says nothing
        op.execute(users.update().where(users.c.currency == "USD", users.c.timezone.in_(("UTC", "Etc/UTC")),
                                        sa.or_(*[users.c.phone.like(prefix + "%") for prefix in prefixes]))
                   .values(currency=currency))


def downgrade():
    _reprice(OLD_USD_MINOR_PER_MINOR)
    # plain ALTER (SQLite >= 3.35 too): a batch copy of the table would lose its triggers
    op.execute("ALTER TABLE bookings DROP COLUMN charge_currency")
    op.execute("ALTER TABLE bookings DROP COLUMN charge_minor")
