"""`mentorhub bench admin-mentors`: the admin's mentors list on a demo world of a given size.

    mentorhub bench admin-mentors --mentors 10000 [--learners N] [--days 120] [--db sqlite|postgres]
                                  [--var-dir DIR] [--runs 20] [--json PATH]

Seeds the demo world (`mentorhub seed`'s generator; learners default to 5 per mentor, as in the
demo) into a fresh database (a SQLite file under a temporary folder or --var-dir, or the PostgreSQL
database `mentorhub_bench_admin` next to TEST_POSTGRES_URL, dropped afterwards); a --var-dir that
already holds a world is reused. The demo admin signs in through the login form and the TOTP step,
then the Flask test client requests each page RUNS times (no network, so the figures are the
server's own time): the first and the last page of the list, the list filtered by status, one
mentor's page, and the JSON API for one page and for every mentor. Figures per page: p50/p95
milliseconds and SQL statements per request.
"""
from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from pathlib import Path

import click
import pyotp
import sqlalchemy as sa
from flask_migrate import upgrade

from api import create_app
from api.auth import twofactor
from api.admin.reports import MENTORS_PER_PAGE
from api.benchmarks.common import percentile
from api.cli import DEMO_LOGINS, DEMO_PASSWORD
from api.demo.world import WorldSpec, generate_world, world_exists
from api.extensions import db
from api.benchmarks.harness import harness_settings
from api.settings import Settings
from api.tables import MentorProfile, User

BENCH_DB = "mentorhub_bench_admin"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _settings(var_dir: Path, database_url: str):
    return Settings(_env_file=None, var_dir=var_dir, database_url=database_url, log_level="WARNING",
                    secret_key="bench-secret-not-for-production", socketio_async_mode="threading")


def _on_postgres_server(*statements: str) -> str:
    """Run statements (CREATE/DROP DATABASE) on the server of TEST_POSTGRES_URL; returns that URL."""
    base = harness_settings().test_postgres_url
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    engine.dispose()
    return base


def _postgres_database(name: str) -> str:
    """A fresh PostgreSQL database next to TEST_POSTGRES_URL; returns its URL."""
    base = _on_postgres_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def _world(app, mentors: int, learners: int, days: int) -> str:
    """Migrate and seed unless a world is there already; returns what was done."""
    with app.app_context():
        upgrade()
        if world_exists():
            return "reused the world already in the database"
        started = time.perf_counter()
        generate_world(WorldSpec(learners=learners, mentors=mentors, days=days), demo_password=DEMO_PASSWORD,
                       demo_logins=DEMO_LOGINS, progress=False)
        return f"seeded in {time.perf_counter() - started:.0f}s"


def _signed_in_admin(app):
    """A test client of the demo admin after the password and the TOTP code, as in the browser."""
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.email == DEMO_LOGINS["admin"]))
        twofactor.set_secret(admin.id, TOTP_SECRET)
    client = app.test_client()

    def token(path: str) -> str:
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)

    client.post("/login", data={"email": DEMO_LOGINS["admin"], "password": DEMO_PASSWORD,
                                "csrf_token": token("/login")})
    response = client.post("/admin/2fa", data={"code": pyotp.TOTP(TOTP_SECRET).now(), "csrf_token": token("/admin/2fa")})
    if response.status_code != 302:
        raise click.ClickException("the demo admin could not sign in with the TOTP code")
    return client


def measure(client, engine, path: str, runs: int) -> dict:
    """p50/p95 milliseconds of GET path over RUNS requests (after one warm-up) and SQL statements per request."""
    statements = [0]

    def count(*_args, **_kwargs):
        statements[0] += 1

    response = client.get(path)
    if response.status_code != 200:
        raise click.ClickException(f"GET {path}: {response.status_code}")
    sa.event.listen(engine, "before_cursor_execute", count)
    timings, queries = [], []
    try:
        for _ in range(runs):
            statements[0] = 0
            started = time.perf_counter()
            client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            queries.append(statements[0])
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return {"path": path, "p50_ms": round(statistics.median(timings), 1), "p95_ms": round(percentile(timings, 95), 1),
            "sql_statements": max(queries), "bytes": len(response.data)}


@click.command("admin-mentors")
@click.option("--mentors", default=80, show_default=True, type=click.IntRange(1))
@click.option("--learners", type=click.IntRange(1), help="Default: 5 per mentor (the demo world's ratio).")
@click.option("--days", default=120, show_default=True, type=click.IntRange(1))
@click.option("--db", "kind", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True)
@click.option("--var-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the world here (SQLite) and reuse it next time; default: a temporary folder.")
@click.option("--runs", default=20, show_default=True, type=click.IntRange(1))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
def admin_mentors(mentors: int, learners: int | None, days: int, kind: str, var_dir: Path | None, runs: int,
                  json_path: Path | None) -> None:
    """Time the admin's mentors list (first and last page, a status filter), one mentor and the JSON API."""
    with tempfile.TemporaryDirectory(prefix="mentorhub-bench-admin-") as scratch:
        folder = var_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        database_url = _postgres_database(BENCH_DB) if kind == "postgres" else ""
        app = create_app(settings=_settings(folder, database_url))
        seeded = _world(app, mentors, learners or 5 * mentors, days)
        with app.app_context():
            engine = db.engine
            total = db.session.scalar(sa.select(sa.func.count()).select_from(MentorProfile))
            one = db.session.scalar(sa.select(MentorProfile.user_id).order_by(MentorProfile.user_id))
        client = _signed_in_admin(app)
        last = max((total + MENTORS_PER_PAGE - 1) // MENTORS_PER_PAGE, 1)
        pages = {"list, page 1": "/admin/mentors/all", f"list, page {last} (last)": f"/admin/mentors/all?page={last}",
                 "list, approved only": "/admin/mentors/all?status=approved",
                 "one mentor": f"/admin/mentors/{one}", "JSON API, page 1": "/api/v1/admin/mentors?page=1",
                 "JSON API, every mentor": "/api/v1/admin/mentors"}
        figures = {"mentors": total, "db": kind, "world": seeded, "runs": runs,
                   "pages": {name: measure(client, engine, path, runs) for name, path in pages.items()}}
        engine.dispose()
        if kind == "postgres":
            _on_postgres_server(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    click.echo(f"admin mentors on a demo world of {total} mentors ({kind}; {seeded}), {runs} runs each:")
    for name, row in figures["pages"].items():
        click.echo(f"  {name:<26} p50 {row['p50_ms']:8.1f} ms   p95 {row['p95_ms']:8.1f} ms   "
                   f"{row['sql_statements']:3d} SQL statements   {row['bytes'] / 1024:7.0f} KiB")
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2))
