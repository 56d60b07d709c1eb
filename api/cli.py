"""The `mentorhub` command: database, demo world, server, pipelines and benchmarks.

This is the composition root: heavy packages (pipelines, experiments, mlflow...) are imported
inside the command that needs them, never at start-up.
"""
from __future__ import annotations

import os
import sys
import time

import click

DEMO_PASSWORD = "mentorhub-demo-2026"
DEMO_LOGINS = {
    "learner": "learner@mentorhub.example",
    "mentor": "mentor@mentorhub.example",
    "admin": "admin@mentorhub.example",
}


def _app():
    from api import create_app

    return create_app()


@click.group()
def cli() -> None:
    """MentorHub: mentor-learner platform."""


@cli.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Upgrade the database to a revision."""
    from flask_migrate import upgrade

    with _app().app_context():
        upgrade(revision=revision)
    click.echo(f"database upgraded to {revision}")


@db.command("downgrade")
@click.option("--revision", default="-1", show_default=True)
def db_downgrade(revision: str) -> None:
    """Downgrade the database to a revision ('base' empties it)."""
    from flask_migrate import downgrade

    with _app().app_context():
        downgrade(revision=revision)
    click.echo(f"database downgraded to {revision}")


@cli.command()
@click.option("--learners", default=400, show_default=True, type=click.IntRange(1))
@click.option("--mentors", default=80, show_default=True, type=click.IntRange(1))
@click.option("--days", default=120, show_default=True, type=click.IntRange(1))
@click.option("--seed", "random_seed", default=42, show_default=True, type=int)
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last simulated day (UTC); default: today.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
def seed(learners: int, mentors: int, days: int, random_seed: int, until, if_empty: bool) -> None:
    """Generate the demo world: people, mentors, and months of learner behaviour."""
    from api.demo.world import WorldSpec, generate_world, world_exists

    app = _app()
    with app.app_context():
        if if_empty and world_exists():
            click.echo("demo world already present; skipping seed")
            return
        started = time.perf_counter()
        spec = WorldSpec(learners=learners, mentors=mentors, days=days, seed=random_seed,
                         until=until.date() if until else None)
        counts = generate_world(spec, demo_password=DEMO_PASSWORD, demo_logins=DEMO_LOGINS, progress=True)
        elapsed = time.perf_counter() - started
    click.echo(f"seeded in {elapsed:.1f}s: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@cli.command("demo-logins")
def demo_logins() -> None:
    """Print the demo accounts to log in with."""
    click.echo("Demo logins (password for all: %s)" % DEMO_PASSWORD)
    for role, email in DEMO_LOGINS.items():
        click.echo(f"  {role:<8} {email}")
    click.echo("The admin sets up two-factor sign-in (an authenticator app, TOTP) on first log-in.")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the web client and chat with Flask-SocketIO's eventlet server."""
    os.execv(sys.executable, [sys.executable, "-m", "api.server", "--host", host, "--port", str(port)])


@cli.group()
def payments() -> None:
    """Payment operations."""


@cli.group()
def bench() -> None:
    """Benchmarks; each prints its figures and can write them as JSON."""


def _attach_lazy_commands() -> None:
    """Commands defined in other packages, attached without importing those packages at start-up."""

    class LazyCommand(click.Command):
        def __init__(self, name: str, import_path: str, help_text: str, make_obj=None):
            super().__init__(name, help=help_text, context_settings={"ignore_unknown_options": True,
                                                                     "allow_extra_args": True})
            self.import_path = import_path
            self.make_obj = make_obj  # builds the target's click context object (e.g. values from settings)

        def _target(self) -> click.Command:
            module_name, attr = self.import_path.split(":")
            module = __import__(module_name, fromlist=[attr])
            return getattr(module, attr)

        def invoke(self, ctx: click.Context):
            target = self._target()
            obj = self.make_obj() if self.make_obj else None
            return target.main(args=ctx.args, prog_name=ctx.command_path, standalone_mode=False, obj=obj)

        def get_help(self, ctx: click.Context) -> str:
            return self._target().get_help(ctx)

    lazy_commands = [  # (group, name, "module:command", help)
        (bench, "startup", "api.benchmarks:startup", "Time from starting the server to its first healthy /healthz."),
        (bench, "recsys", "experiments.cli:recsys", "Offline recommender benchmark on MovieLens-100k (folds u1..u5)."),
        (bench, "booking", "api.bookings.bench:booking",
         "Booking throughput with 16 clients and the 200-client conflict test."),
        (bench, "search", "api.search.bench:search", "Search latency through HTTP against the direct-SQL floor."),
        (bench, "serving", "api.recommendations.bench:serving",
         "Recommendation endpoint latency and throughput against `mlflow models serve`."),
        (bench, "chat", "api.chat.bench:chat", "Chat delivery across eventlet workers on the Redis queue."),
        (bench, "admin-mentors", "api.admin.bench:admin_mentors",
         "The admin's mentors list (pages, status filter, JSON API) on a demo world of N mentors."),
        (cli, "run-jobs", "api.bookings.jobs:run_jobs_command",
         "Periodic jobs: expire unanswered requests, complete sessions, send reminders."),
        (cli, "refresh-ranking", "api.search.ranking_columns:refresh_ranking_command",
         "Re-sync the search ranking columns (rating prior, 90-day popularity, prices)."),
        (payments, "reconcile", "api.payments.reconcile:reconcile_command",
         "Settle payments stuck between states; cancel unpaid requests."),
    ]
    for group, name, import_path, help_text in lazy_commands:
        group.add_command(LazyCommand(name, import_path, help_text))
    cli.add_command(LazyCommand("pipeline", "pipelines.cli:pipeline",
                                "ML pipelines (Prefect flows): ingest, train, promote, monitor, all, serve.",
                                make_obj=_pipeline_settings))


def _pipeline_settings() -> dict:
    """What the pipelines need from the settings (they may not import api themselves)."""
    from api.settings import get_settings

    settings = get_settings()
    return {"database_url": settings.sqlalchemy_database_uri, "var_dir": str(settings.var_dir),
            "mlflow_uri": settings.mlflow_uri, "online_store": settings.feast_online_store,
            "redis_url": settings.redis_url, "prefect_api_url": settings.prefect_api_url}


_attach_lazy_commands()


if __name__ == "__main__":
    cli()
