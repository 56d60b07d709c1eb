"""`mentorhub import`: generated CSV and Parquet files, good and bad, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import re
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import cli
from api.settings import get_settings

pytestmark = pytest.mark.db

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[3]
TABLE_NAMES = ("topics", "users", "mentors", "bookings", "payments", "reviews")


def good_tables() -> dict[str, list[dict]]:
    """A small platform: two topics, two learners, two mentors (one also a learner), bookings, payments, reviews."""
    from api.auth.passwords import hash_password

    return {
        "topics": [
            {"slug": "python", "name": "Python", "category": "programming"},
            {"slug": "data-science", "name": "Data science", "category": "data"},
        ],
        "users": [
            {"email": "Ana@Example.com", "full_name": "Ana Learner", "roles": "learner", "timezone": "Europe/London",
             "currency": "GBP", "interests": "pandas", "topics": "python", "created_at": "2025-06-01T10:00:00Z"},
            {"email": "ben@example.com", "full_name": "Ben Learner", "roles": "learner",
             "password_hash": hash_password("an imported passphrase"), "email_verified_at": "2025-06-02T10:00:00Z"},
            {"email": "maria@example.com", "full_name": "Maria Quintero", "roles": "mentor",
             "timezone": "Europe/Berlin", "currency": "EUR", "phone": "+49 151 23456789"},
            {"email": "omar@example.com", "full_name": "Omar Haddad", "roles": "learner;mentor"},
        ],
        "mentors": [
            {"email": "maria@example.com", "headline": "Zanzibarian pandas whisperer and Python teacher",
             "topics": "python;data-science", "price_minor": 4500, "currency": "EUR",
             "availability": "mon 09:00-12:00; wed 14:00-18:00", "languages": "en;de", "years_experience": 8,
             "bio": "Ten years of notebooks.", "created_at": "2025-05-01T08:00:00Z"},
            {"email": "omar@example.com", "headline": "Data engineer", "topics": "data-science", "price_minor": 3000,
             "currency": "USD", "availability": "tue 10:00-12:00", "session_minutes": 45},
        ],
        "bookings": [
            {"external_id": "B1", "learner_email": "ana@example.com", "mentor_email": "maria@example.com",
             "starts_at": "2026-02-02T09:00:00+01:00", "status": "completed", "topic": "python",
             "requested_at": "2026-01-28T12:00:00Z"},
            {"external_id": "B2", "learner_email": "ben@example.com", "mentor_email": "maria@example.com",
             "starts_at": "2026-02-04T13:00:00Z", "ends_at": "2026-02-04T14:00:00Z", "status": "completed"},
            {"external_id": "B3", "learner_email": "omar@example.com", "mentor_email": "maria@example.com",
             "starts_at": "2026-02-09T08:00:00Z", "status": "cancelled_by_learner",
             "requested_at": "2026-02-01T08:00:00Z", "outcome_at": "2026-02-05T08:00:00Z"},
        ],
        "payments": [
            {"external_id": "P1", "booking_external_id": "B1", "amount_minor": 4500, "currency": "EUR",
             "status": "captured", "gateway": "stripe", "paid_at": "2026-01-28T12:05:00Z"},
            {"external_id": "P3", "booking_external_id": "B3", "amount_minor": 4500, "currency": "EUR",
             "status": "refunded"},
        ],
        "reviews": [
            {"external_id": "R1", "booking_external_id": "B1", "rating": 5, "text": "Clear and patient.",
             "created_at": "2026-02-02T12:00:00Z"},
            {"external_id": "R2", "booking_external_id": "B2", "rating": 4},
        ],
    }


def _parquet_value(column: str, value):
    """Parquet's own types: zoned timestamps, lists, integers."""
    if isinstance(value, str) and column.endswith("_at"):
        return pd.Timestamp(value).tz_convert("UTC")
    if isinstance(value, str) and column in ("topics", "roles", "languages", "availability"):
        return [part.strip() for part in value.split(";")]
    return value


def write_files(folder: Path, tables: dict[str, list[dict]], fmt: str = "csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        if fmt == "csv":
            pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)
        else:
            rows = [{k: _parquet_value(k, v) for k, v in row.items()} for row in rows]
            pd.DataFrame(rows).to_parquet(folder / f"{name}.parquet", index=False)
    return folder


@pytest.fixture
def mentorhub(app, settings, database_url, monkeypatch, fixed_clock):
    """Run `mentorhub ...` on the test's database (the CLI reads its settings from the environment)."""
    monkeypatch.setenv("VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("MENTORHUB_PROFILE", "testing")
    monkeypatch.setenv("SOCKETIO_ASYNC_MODE", "threading")
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("SECRET_KEY", "test-secret-key-not-for-production")
    if database_url:
        monkeypatch.setenv("DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()

    def run(*args: str):
        return CliRunner().invoke(cli, ["import", *map(str, args)])

    yield run
    get_settings.cache_clear()


def counts(app) -> dict[str, int]:
    from api.extensions import db

    with app.app_context():
        return {name: db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {name}")) for name in (
            "topics", "users", "user_roles", "learner_profiles", "mentor_profiles", "availability_rules", "bookings",
            "payments", "refunds", "reviews", "events")}


# ---------------------------------------------------------------- a good import


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_good_import_is_seen_by_search_free_slots_ranking_and_the_pipelines(app, client, mentorhub, tmp_path, fmt):
    from api.extensions import db
    from api.auth.passwords import verify_password
    from api.tables import Booking, Event, MentorFreeSlot, MentorProfile, Payment, Review, User

    folder = write_files(tmp_path / "in", good_tables(), fmt)
    result = mentorhub(folder)
    assert result.exit_code == 0, result.output
    assert "users: 4 added" in result.output and "bookings: 3 added" in result.output

    # search (through the HTTP API) finds the imported mentor by a word of her headline and by topic
    found = client.get("/api/v1/mentors?q=Zanzibarian").get_json()
    assert [m["name"] for m in found["mentors"]] == ["Maria Quintero"]
    by_topic = client.get("/api/v1/mentors?topic=data-science&sort=rating").get_json()
    assert {m["name"] for m in by_topic["mentors"]} == {"Maria Quintero", "Omar Haddad"}
    # ... and by availability: Monday 9-12 Berlin time is free next week
    free = client.get("/api/v1/mentors?available_from=2026-03-09&available_to=2026-03-09&tz=Europe/Berlin"
                      "&time_from=09:00&time_to=12:00").get_json()
    assert "Maria Quintero" in {m["name"] for m in free["mentors"]}

    with app.app_context():
        maria = db.session.scalar(sa.select(User).where(User.email == "maria@example.com"))
        ana = db.session.scalar(sa.select(User).where(User.email == "ana@example.com"))
        ben = db.session.scalar(sa.select(User).where(User.email == "ben@example.com"))
        profile = db.session.get(MentorProfile, maria.id)
        # money in minor units + currency; the mentor's zone comes from her account; ranking columns are current
        assert (profile.price_minor, profile.currency, profile.timezone) == (4500, "EUR", "Europe/Berlin")
        assert (profile.rating_count, profile.rating_sum) == (2, 9)
        assert profile.bayes_score > 0 and profile.price_usd_minor > 0 and profile.completed_90d == 2
        slots = db.session.scalars(sa.select(MentorFreeSlot.starts_at).where(MentorFreeSlot.mentor_id == maria.id)).all()
        assert slots, "the free-slot index has the imported mentor's slots"
        first = datetime.fromtimestamp(min(slots), UTC)
        assert first > datetime(2026, 3, 2, tzinfo=UTC) and first.astimezone(ZoneInfo("Europe/Berlin")).weekday() in (0, 2)
        # no usable password unless an argon2 hash was given
        assert ana.password_hash is None and ana.email_verified_at is None
        assert verify_password(ben.password_hash, "an imported passphrase")
        b1 = db.session.scalar(sa.select(Booking).where(Booking.learner_id == ana.id))
        assert b1.starts_at == datetime(2026, 2, 2, 8, 0, tzinfo=UTC)  # +01:00 stored in UTC
        assert (b1.ends_at - b1.starts_at).total_seconds() == 3600  # the mentor's session length
        payment = db.session.scalar(sa.select(Payment).where(Payment.provider_ref == "P1"))
        assert (payment.amount_minor, payment.captured_minor, payment.currency, payment.gateway) == (
            4500, 4500, "EUR", "stripe")
        refunded = db.session.scalar(sa.select(Payment).where(Payment.provider_ref == "P3"))
        assert refunded.status.value == "refunded" and [r.amount_minor for r in refunded.refunds] == [4500]
        assert db.session.scalar(sa.select(Review.rating).where(Review.booking_id == b1.id)) == 5
        # the pipelines' events, with the original times
        events = db.session.scalars(sa.select(Event).where(Event.booking_id == b1.id).order_by(Event.occurred_at)).all()
        assert [(e.event_type.value, e.occurred_at) for e in events] == [
            ("booking_request", datetime(2026, 1, 28, 12, tzinfo=UTC)),
            ("booking_outcome", datetime(2026, 1, 28, 12, tzinfo=UTC)),
            ("booking_outcome", datetime(2026, 2, 2, 9, tzinfo=UTC)),
            ("rating", datetime(2026, 2, 2, 12, tzinfo=UTC)),
        ]
        assert [e.payload.get("outcome") for e in events[1:3]] == ["accepted", "completed"]
        assert events[3].payload["rating"] == 5 and events[0].payload["external_id"] == "B1"


def test_a_second_run_adds_nothing(app, mentorhub, tmp_path):
    folder = write_files(tmp_path / "in", good_tables())
    assert mentorhub(folder).exit_code == 0
    before = counts(app)
    again = mentorhub(folder)
    assert again.exit_code == 0, again.output
    assert "users: 0 added, 4 already there" in again.output
    assert "reviews: 0 added, 2 already there" in again.output
    assert counts(app) == before


def test_a_dry_run_checks_and_counts_but_writes_nothing(app, mentorhub, tmp_path):
    before = counts(app)
    result = mentorhub(write_files(tmp_path / "in", good_tables(), "parquet"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written" in result.output and "bookings: 3 to add" in result.output
    assert counts(app) == before


def test_payments_and_reviews_can_follow_in_a_later_run(app, mentorhub, tmp_path):
    tables = good_tables()
    later = {name: tables.pop(name) for name in ("payments", "reviews")}
    assert mentorhub(write_files(tmp_path / "first", tables)).exit_code == 0
    result = mentorhub(write_files(tmp_path / "later", later, "parquet"))
    assert result.exit_code == 0, result.output
    assert "payments: 2 added" in result.output and "reviews: 2 added" in result.output


# ---------------------------------------------------------------- bad files


def _bad_tables() -> dict[str, list[dict]]:
    """The good platform with one bad row of each kind (and the rows that depend on them)."""
    tables = good_tables()
    tables["users"].append({"email": "not-an-address", "full_name": "Nobody", "roles": "learner"})
    tables["mentors"][1]["topics"] = "data-science;basket-weaving"  # unknown topic
    tables["mentors"].append({"email": "ben@example.com", "headline": "x", "topics": "python", "price_minor": 1,
                              "currency": "USD", "availability": "mon 09:00-10:00"})  # ben is no mentor
    tables["users"].append({"email": "zoe@example.com", "full_name": "Zoe", "roles": "mentor"})
    tables["mentors"].append({"email": "zoe@example.com", "headline": "Cheap", "topics": "python",
                              "price_minor": -500, "currency": "XYZ", "availability": "fri 09:00-10:00"})
    tables["bookings"] += [
        {"external_id": "B4", "learner_email": "ana@example.com", "mentor_email": "ghost@example.com",
         "starts_at": "2026-02-10T09:00:00Z", "status": "completed"},  # unknown mentor
        {"external_id": "B5", "learner_email": "ben@example.com", "mentor_email": "maria@example.com",
         "starts_at": "2026-02-02T08:30:00Z", "status": "completed"},  # overlaps B1 (08:00-09:00 UTC)
    ]
    tables["reviews"].append({"external_id": "R3", "booking_external_id": "B3", "rating": 2})  # B3 was cancelled
    return tables


EXPECTED_PROBLEMS = [  # (file, row, field, words of the message)
    ("users", 5, "email", "valid e-mail"),
    ("mentors", 2, "topics", "unknown topic 'basket-weaving'"),
    ("mentors", 3, "email", "not a mentor"),
    ("mentors", 4, "currency", "Choose one of"),
    ("mentors", 4, "price_minor", "more than 0"),
    ("bookings", 4, "mentor_email", "unknown mentor"),
    ("bookings", 5, "starts_at", "overlaps the mentor's booking B1 (row 1)"),
    ("reviews", 3, "booking_external_id", "did not happen"),
]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bad_rows_are_named_by_file_row_and_field_and_nothing_is_written(app, mentorhub, tmp_path, fmt):
    before = counts(app)
    result = mentorhub(write_files(tmp_path / "in", _bad_tables(), fmt), "--report", tmp_path / "report.csv")
    assert result.exit_code == 1
    assert "Nothing was imported" in result.output
    for table, row, column, words in EXPECTED_PROBLEMS:
        pattern = rf"{table}\.{fmt}, row {row}, field {column}: [^\n]*{re.escape(words)}"
        assert re.search(pattern, result.output), (pattern, result.output)
    assert counts(app) == before
    assert (tmp_path / "report.csv").exists()


def test_skip_bad_writes_the_good_rows_and_a_report_of_the_rest(app, mentorhub, tmp_path):
    from api.extensions import db
    from api.tables import Booking, MentorProfile, User

    report = tmp_path / "out" / "report.csv"
    result = mentorhub(write_files(tmp_path / "in", _bad_tables()), "--skip-bad", "--report", report)
    assert result.exit_code == 0, result.output
    assert "Skipped" in result.output and str(report) in result.output
    with report.open(newline="") as handle:
        lines = list(csv.DictReader(handle))
    reported = {(line["file"], int(line["row"]), line["field"]) for line in lines}
    assert {(f"{t}.csv", r, c) for t, r, c, _ in EXPECTED_PROBLEMS} <= reported
    assert all(line["problem"] and line["data"].startswith("{") for line in lines)
    # omar's mentor profile (unknown topic) is bad, but his booking as a learner goes in; zoe's account is good,
    # her mentor profile is not
    with app.app_context():
        emails = set(db.session.scalars(sa.select(User.email)))
        assert {"ana@example.com", "ben@example.com", "maria@example.com", "omar@example.com",
                "zoe@example.com"} == emails
        mentors = db.session.scalars(sa.select(MentorProfile.user_id)).all()
        assert len(mentors) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 3
    # fixed files go in on the next run; what is there already stays as it is
    tables = good_tables()
    again = mentorhub(write_files(tmp_path / "fixed", tables), "--report", tmp_path / "second.csv")
    assert again.exit_code == 0, again.output
    assert "mentors: 1 added, 1 already there" in again.output


def test_a_review_of_a_booking_that_failed_is_bad_too(app, mentorhub, tmp_path):
    tables = good_tables()
    tables["bookings"][0]["learner_email"] = "nobody@example.com"
    result = mentorhub(write_files(tmp_path / "in", tables))
    assert result.exit_code == 1
    assert re.search(r"bookings\.csv, row 1, field learner_email: no user with this e-mail", result.output)
    assert re.search(r"payments\.csv, row 1, field booking_external_id: booking B1 is not imported: "
                     r"bookings\.csv row 1 is bad", result.output)
    assert re.search(r"reviews\.csv, row 1, field booking_external_id: booking B1 is not imported", result.output)


def test_unusable_files_are_refused_before_any_row(app, mentorhub, tmp_path):
    folder = tmp_path / "in"
    write_files(folder, {"users": [{"email": "a@example.com", "full_name": "A", "role": "learner"}]})
    result = mentorhub(folder / "users.csv")
    assert result.exit_code == 1
    assert "users.csv: missing required column(s): roles" in result.output
    assert "unknown column(s): role" in result.output
    (tmp_path / "people.csv").write_text("email\n")
    assert "not an import file" in mentorhub(tmp_path / "people.csv").output


def test_times_need_their_zone_and_password_hashes_must_be_argon2(app, mentorhub, tmp_path):
    tables = good_tables()
    tables["users"][0]["created_at"] = "2025-06-01 10:00"
    tables["users"][1]["password_hash"] = "5f4dcc3b5aa765d61d8327deb882cf99"  # md5 of "password"
    result = mentorhub(write_files(tmp_path / "in", {"topics": tables["topics"], "users": tables["users"]}))
    assert result.exit_code == 1
    assert "users.csv, row 1, field created_at: give the time with its UTC offset" in result.output
    assert "users.csv, row 2, field password_hash: must be an argon2 hash" in result.output


def test_the_readme_documents_every_column():
    from api.importer.schema import TABLES

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Importing a platform's data", 1)[1].split("\n## ", 1)[0]
    for table, columns in TABLES.items():
        assert f"`{table}.csv`" in section
        for column in columns:
            assert f"`{column.name}`" in section, (table, column.name)


def test_import_on_a_never_migrated_database_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MENTORHUB_PROFILE", "testing")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        (tmp_path / "mentorhub.db").touch()
        folder = write_files(tmp_path / "in", {"topics": good_tables()["topics"]})
        result = CliRunner().invoke(cli, ["import", str(folder)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "mentorhub db upgrade" in result.output
