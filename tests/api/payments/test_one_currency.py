"""One currency per person, one amount for one price: search, profile, booking, checkout, receipt and the charge
agree to the minor unit; a mentor's earnings are in their own currency; the preference is chosen and checked."""
from __future__ import annotations

import re
from fractions import Fraction

import pytest
import sqlalchemy as sa

from api import money
from api.extensions import db
from api.tables import MentorProfile, Payment, User
from tests.api.bookings.conftest import create_mentor, create_person
from tests.api.payments.conftest import checkout, request_booking, set_currency

TUESDAY_9_LONDON = "2026-03-03T09:00:00Z"  # the mentor works 09:00-12:00 London time


@pytest.fixture
def gbp_mentor(app):
    """A mentor in London charging GBP 40 a session."""
    person = create_mentor(app, email="gemma@example.com", tz="Europe/London", full_name="Gemma Pound")
    with app.app_context():
        db.session.get(MentorProfile, person.id).price_minor = 4000
        db.session.get(MentorProfile, person.id).currency = "GBP"
        db.session.get(User, person.id).currency = "GBP"
        db.session.commit()
    return person


@pytest.fixture
def uk_learner(app):
    person = create_person(app, "ursula@example.com", tz="Europe/London", full_name="Ursula Learner")
    set_currency(app, person, "GBP")
    return person


@pytest.fixture
def us_learner(app):
    person = create_person(app, "sam@example.com", tz="America/New_York", full_name="Sam Learner")
    set_currency(app, person, "USD")
    return person


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def _everywhere_before_paying(client, mentor_id: int) -> dict[str, object]:
    """What the learner sees for the mentor on every page before paying, and what they ask to book."""
    found = [m for m in client.get("/api/v1/mentors").json["mentors"] if m["id"] == mentor_id]
    return {
        "search_api": found[0]["display_price"],
        "search_page": _text(client.get("/mentors")),
        "preview_page": _text(client.get(f"/mentors/{mentor_id}/preview")),
        "public_page": _text(client.get(f"/mentors/{mentor_id}", follow_redirects=True)),
        "profile_api": client.get(f"/api/v1/mentors/{mentor_id}").json["display_price"],
        "book_page": _text(client.get(f"/bookings/mentors/{mentor_id}/book")),
    }


def _pay_in_sandbox(client, booking_id: int) -> tuple[dict, str, str]:
    started = checkout(client, booking_id)
    pay_page = _text(client.get(f"/payments/bookings/{booking_id}/pay"))
    response = client.form(f"/payments/sandbox/{started['payment']['id']}/pay", {"card_number": "4242 4242 4242 4242"})
    assert response.status_code == 302
    receipt = _text(client.get(f"/payments/receipts/{started['payment']['id']}"))
    return started["payment"], pay_page, receipt


@pytest.mark.db
def test_uk_learner_sees_and_pays_gbp_40_everywhere(app, clock, gbp_mentor, uk_learner, as_user):
    client = as_user(uk_learner)
    seen = _everywhere_before_paying(client, gbp_mentor.id)
    assert seen["search_api"] == {"amount_minor": 4000, "currency": "GBP"}
    assert seen["profile_api"] == {"amount_minor": 4000, "currency": "GBP"}
    for page in ("search_page", "preview_page", "public_page", "book_page"):
        assert "£40.00" in seen[page], page
        assert "$50" not in seen[page] and "40.00 GBP" not in seen[page], page
    booking = request_booking(client, gbp_mentor, TUESDAY_9_LONDON)
    assert (booking["charge_minor"], booking["charge_currency"]) == (4000, "GBP")
    payment, pay_page, receipt = _pay_in_sandbox(client, booking["id"])
    assert (payment["amount_minor"], payment["currency"], payment["gateway"]) == (4000, "GBP", "sandbox")
    assert "£40.00" in pay_page and "£40.00" in receipt
    with app.app_context():
        charged = db.session.scalar(sa.select(Payment).where(Payment.booking_id == booking["id"]))
        assert (charged.amount_minor, charged.currency, charged.status.value) == (4000, "GBP", "authorized")


@pytest.mark.db
def test_us_learner_sees_one_converted_amount_and_is_charged_it(app, clock, gbp_mentor, us_learner, as_user):
    client = as_user(us_learner)
    with app.app_context():
        expected = money.convert(4000, "GBP", "USD")
        shown = money.format_money(expected, "USD")
    assert expected == 5063 and shown == "$50.63"  # 40 / 0.79, half up to the cent (settings.payments_fx_rates)
    seen = _everywhere_before_paying(client, gbp_mentor.id)
    assert seen["search_api"] == seen["profile_api"] == {"amount_minor": 5063, "currency": "USD"}
    for page in ("search_page", "preview_page", "public_page", "book_page"):
        assert shown in seen[page] and "$50.80" not in seen[page], page
    booking = request_booking(client, gbp_mentor, TUESDAY_9_LONDON)
    assert (booking["charge_minor"], booking["charge_currency"]) == (5063, "USD")
    payment, pay_page, receipt = _pay_in_sandbox(client, booking["id"])
    assert (payment["amount_minor"], payment["currency"]) == (5063, "USD")
    assert shown in pay_page and shown in receipt


def test_the_charge_is_fixed_when_the_learner_asks(app, clock, gbp_mentor, us_learner, as_user):
    client = as_user(us_learner)
    booking = request_booking(client, gbp_mentor, TUESDAY_9_LONDON)
    set_currency(app, us_learner, "EUR")  # a later change of mind shows new prices, not a new charge
    assert checkout(client, booking["id"])["payment"]["amount_minor"] == 5063
    assert client.get("/api/v1/mentors").json["mentors"][0]["display_price"]["currency"] == "EUR"


def test_changing_the_preference_changes_what_is_shown(app, gbp_mentor, us_learner, as_user):
    client = as_user(us_learner)
    response = client.put("/api/v1/profile/learner", json={"currency": "eur"})
    assert response.status_code == 200 and response.json["currency"] == "EUR"
    with app.app_context():
        euros = money.convert(4000, "GBP", "EUR")
    assert euros == 4658  # 40 / 0.79 x 0.92
    assert client.get("/api/v1/mentors").json["mentors"][0]["display_price"] == {"amount_minor": 4658,
                                                                                 "currency": "EUR"}
    assert "€46.58" in _text(client.get(f"/mentors/{gbp_mentor.id}/preview"))
    # the learner's web form
    page = _text(client.get("/profile"))
    assert 'id="currency"' in page
    form = {"full_name": "Sam Learner", "email": "sam@example.com", "phone": "+12025550123",
            "timezone": "America/New_York", "currency": "INR", "interests": ""}
    assert client.form("/profile", form).status_code == 302
    assert "₹" in _text(client.get("/mentors")) and "€46.58" not in _text(client.get("/mentors"))
    # a search link with another currency does not change what a signed-in person sees
    assert "₹" in _text(client.get(f"/mentors/{gbp_mentor.id}/preview?currency=USD"))


def test_bad_currency_codes_are_refused_naming_the_field(app, gbp_mentor, us_learner, as_user):
    learner_client, mentor_client = as_user(us_learner), as_user(gbp_mentor)
    for bad in ("XYZ", "CHF", "", "us"):
        response = learner_client.put("/api/v1/profile/learner", json={"currency": bad})
        assert response.status_code == 400 and "currency" in response.json["error"]["fields"], bad
        response = mentor_client.put("/api/v1/profile/mentor", json={"currency": bad})
        assert response.status_code == 400 and "currency" in response.json["error"]["fields"], bad
    form = {"full_name": "Sam Learner", "email": "sam@example.com", "phone": "+12025550123",
            "timezone": "America/New_York", "currency": "XYZ", "interests": ""}
    response = learner_client.form("/profile", form)
    assert response.status_code == 400
    assert re.search(r'id="currency"[^>]*aria-invalid="true"|Choose one of: AUD, CAD, EUR, GBP, INR, JPY, USD',
                     response.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(User, us_learner.id).currency == "USD"


def test_the_mentor_form_sets_the_mentors_one_currency(app, gbp_mentor, as_user):
    client = as_user(gbp_mentor)
    response = client.put("/api/v1/profile/mentor", json={"currency": "EUR", "price_minor": 4500})
    assert response.status_code == 200 and response.json["price"] == "€45.00"
    with app.app_context():
        assert db.session.get(User, gbp_mentor.id).currency == "EUR"


@pytest.mark.db
def test_mentor_earnings_are_in_their_own_currency(app, clock, gbp_mentor, us_learner, as_user, books):
    learner_client, mentor_client = as_user(us_learner), as_user(gbp_mentor)
    booking = request_booking(learner_client, gbp_mentor, TUESDAY_9_LONDON)
    _pay_in_sandbox(learner_client, booking["id"])
    assert mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept").status_code == 200
    assert books.balances(gbp_mentor.id)["USD"]["pending"] == 5063 - 759  # booked as charged: 15 % fee kept
    earnings = _text(mentor_client.get("/payments/earnings"))
    # the learner paid USD 50.63 for a GBP 40 price: the mentor's 85 % is GBP 34.00 at the rate of that day
    assert 'data-currency="GBP"' in earnings and "£34.00" in earnings and "paid as $43.04" in earnings
    assert 'data-currency="USD"' not in earnings
    assert mentor_client.get("/api/v1/payments/earnings").json["totals"] == {"pending": 3400, "available": 0,
                                                                             "paid_out": 0}


def test_default_currency_follows_the_time_zone_then_the_phone(app):
    assert money.default_currency("Europe/London") == "GBP"
    assert money.default_currency("Asia/Kolkata") == "INR"
    assert money.default_currency("Europe/Berlin") == money.default_currency("Europe/Madrid") == "EUR"
    assert money.default_currency("America/New_York", "+447700900123") == "USD"  # where they are
    assert money.default_currency("UTC", "+447700900123") == "GBP"
    assert money.default_currency("UTC", "+919812345678") == "INR"
    assert money.default_currency("UTC", "+33612345678") == "EUR"
    assert money.default_currency(None, "+12025550123") == "USD"
    with app.test_request_context():
        from api.auth.accounts import find_by_email, sign_up

        sign_up(email="newbie@example.com", phone="+44 7700 900123", password="correct horse battery",
                full_name="New Bie", role="learner")
        assert find_by_email("newbie@example.com").currency == "GBP"


def test_the_one_rounding_rule(app):
    with app.app_context():
        assert money.convert(4000, "GBP", "USD") == 5063  # 5063.29
        assert money.convert(-4000, "GBP", "USD") == -5063  # symmetric: a refund converts like the payment
        assert money.convert(5063, "USD", "USD") == 5063
        assert money.convert(1, "USD", "JPY") == 2  # 1.5 yen: halves go away from zero
        assert money.convert(100, "JPY", "USD") == 67  # 0.6667 dollars
        assert money.convert(500, "USD", "XYZ") is None
        assert money.round_half_up(Fraction(5, 2)) == 3 and money.round_half_up(Fraction(-5, 2)) == -3
        assert money.share(4304, 4000, 5063) == 3400


@pytest.mark.db
def test_sql_conversion_agrees_with_python(app):
    """The search filters convert in SQL; every amount must agree with money.convert to the minor unit."""
    with app.app_context():
        dialect = db.engine.dialect.name
        codes = money.supported_currencies()
        amounts = [1, 5, 99, 100, 1999, 4000, 5063, 12345, 100_000, 999_999]
        for target in codes:
            cases = [(a, c) for a in amounts for c in codes]
            prices = sa.union_all(*[sa.select(sa.literal(a, sa.Integer).label("amount"),
                                              sa.literal(c, sa.String).label("currency")) for a, c in cases]).subquery()
            rows = db.session.execute(sa.select(prices.c.amount, prices.c.currency, money.sql_convert(
                prices.c.amount, prices.c.currency, target, dialect))).all()
            assert {(a, c): int(v) for a, c, v in rows} == {(a, c): money.convert(a, c, target) for a, c in cases}
