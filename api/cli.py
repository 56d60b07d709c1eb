"""The `mentorhub` command: database, demo world, server, pipelines and benchmarks.

This is the composition root: heavy packages (pipelines, experiments, mlflow...) are imported
inside the command that needs them, never at start-up.
"""
from __future__ import annotations

import contextlib
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


def require_migrated() -> None:
    """Stop with the command to run (not a traceback) when the database is not migrated to this code's head."""
    from api.schema import SchemaNotReady, require_current_schema
    from api.settings import get_settings

    try:
        require_current_schema(get_settings().sqlalchemy_database_uri)
    except SchemaNotReady as error:
        raise click.ClickException(str(error)) from None


_verbose = False


@click.group()
@click.option("-v", "--verbose", is_flag=True,
              help="Show every detail (library logs, warnings, progress) here instead of var/log/commands.log.")
@click.option("--now", "fixed_now", default=None, metavar="INSTANT",
              help="Fix the product's clock at this ISO 8601 instant (UTC; a bare date is its midnight) for the "
                   "command, e.g. `mentorhub --now 2026-03-02 seed --until 2026-03-01`; default: the CLOCK_NOW "
                   "setting, else the system clock.")
def cli(verbose: bool, fixed_now: str | None) -> None:
    """MentorHub: mentor-learner platform."""
    global _verbose
    _verbose = verbose
    if fixed_now:
        from models import clock

        try:
            clock.set_now(fixed_now)
        except ValueError as error:
            raise click.BadParameter(f"{fixed_now!r} is no ISO 8601 instant ({error})", param_hint="--now") from None


@contextlib.contextmanager
def step(title: str):
    """A step of a command: its details go to var/log/commands.log (unless --verbose); a failure names the log."""
    if _verbose:
        click.echo(f"{title}...")
        yield
        return
    from api.console import StepFailed, details_to_log, log_file
    from api.settings import get_settings

    try:
        ctx = click.get_current_context(silent=True)
        options = [f"--{k.replace('_', '-')}={v}" for k, v in (ctx.params if ctx else {}).items()
                   if v not in (None, False)]
        command = " ".join([ctx.command_path, *options, *ctx.args]) if ctx else title
        with details_to_log(title, log_file(get_settings().var_dir), command=command):
            yield
    except StepFailed as error:
        raise click.ClickException(str(error)) from None


def details_hint() -> str:
    from api.console import display_path, log_file
    from api.settings import get_settings

    return display_path(log_file(get_settings().var_dir))


@cli.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Upgrade the database to a revision."""
    from flask_migrate import upgrade

    from api.schema import current_revisions
    from api.settings import get_settings

    url = get_settings().sqlalchemy_database_uri
    with step("Migrating the database"):
        before = current_revisions(url)
        with _app().app_context():
            upgrade(revision=revision)
        after = current_revisions(url)
    at = ", ".join(sorted(after)) or "base"
    if before == after:
        click.echo(f"Database: already at {at}; nothing to migrate.")
    else:
        click.echo(f"Database: migrated from {', '.join(sorted(before)) or 'empty'} to {at}.")


@db.command("downgrade")
@click.option("--revision", default="-1", show_default=True)
def db_downgrade(revision: str) -> None:
    """Downgrade the database to a revision ('base' empties it)."""
    from flask_migrate import downgrade

    with step("Downgrading the database"), _app().app_context():
        downgrade(revision=revision)
    click.echo(f"Database: downgraded to {revision}.")


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

    require_migrated()
    app = _app()
    with app.app_context():
        if if_empty and world_exists():
            click.echo("Demo world: already there; not seeded again.")
            return
        started = time.perf_counter()
        spec = WorldSpec(learners=learners, mentors=mentors, days=days, seed=random_seed,
                         until=until.date() if until else None)
        with step(f"Seeding the demo world ({learners} learners, {mentors} mentors, {days} days)"):
            counts = generate_world(spec, demo_password=DEMO_PASSWORD, demo_logins=DEMO_LOGINS, progress=True)
        elapsed = time.perf_counter() - started
    click.echo(seed_summary(counts, elapsed))


def seed_summary(counts: dict[str, int], seconds: float) -> str:
    """Two lines: who was made, and how much behaviour was simulated."""
    people = (f"Demo world: seeded in {seconds:.1f}s: {counts.get('learner_profiles', 0):,} learners, "
              f"{counts.get('mentor_profiles', 0):,} mentors, {counts.get('topics', 0):,} topics")
    activity = ", ".join(f"{counts[key]:,} {label}" for key, label in
                         (("bookings", "bookings"), ("reviews", "reviews"), ("payments", "payments"),
                          ("messages", "chat messages"), ("events", "events"))
                         if counts.get(key))
    return people + (f";\n  {activity}." if activity else ".")


@cli.command("demo-logins")
def demo_logins() -> None:
    """Print the demo accounts to log in with."""
    click.echo("Demo logins (password for all: %s)" % DEMO_PASSWORD)
    for role, email in DEMO_LOGINS.items():
        click.echo(f"  {role:<8} {email}")
    click.echo("The admin sets up two-factor sign-in (an authenticator app, TOTP) on first log-in.")
    click.echo(f"Details of every setup step: {details_hint()}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the web client and chat with Flask-SocketIO's eventlet server (and run the periodic jobs)."""
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
        def __init__(self, name: str, import_path: str, help_text: str, make_obj=None,
                     needs_db: bool | frozenset[str] = False):
            super().__init__(name, help=help_text, context_settings={"ignore_unknown_options": True,
                                                                     "allow_extra_args": True})
            self.import_path = import_path
            self.make_obj = make_obj  # builds the target's click context object (e.g. values from settings)
            self.needs_db = needs_db  # works on the app's database (or these subcommands do): migrated first

        def _target(self) -> click.Command:
            module_name, attr = self.import_path.split(":")
            module = __import__(module_name, fromlist=[attr])
            return getattr(module, attr)

        def invoke(self, ctx: click.Context):
            if self._needs_db(ctx.args):
                require_migrated()
            target = self._target()
            obj = self.make_obj() if self.make_obj else None
            title = self._step_title(ctx.args)
            if title is None or _verbose:
                return target.main(args=ctx.args, prog_name=ctx.command_path, standalone_mode=False, obj=obj)
            obj["summary"] = []  # the command's summary lines, printed after its details went to the log
            with step(title):
                result = target.main(args=ctx.args, prog_name=ctx.command_path, standalone_mode=False, obj=obj)
            _quiet_prefect_at_exit()
            for line in obj["summary"]:
                click.echo(line)
            return result

        def _step_title(self, args: list[str]) -> str | None:
            """The pipeline's steps run quietly (details to the log); other lazy commands print as they go."""
            if self.name != "pipeline" or "--help" in args or "--json" in args:
                return None
            stage = next((a for a in args if a in PIPELINE_STEPS), None)
            return PIPELINE_STEPS.get(stage)

        def _needs_db(self, args: list[str]) -> bool:
            if not self.needs_db or "--help" in args or any(a.startswith("--database-url") for a in args):
                return False
            return self.needs_db is True or bool(self.needs_db & set(args))  # or: only these subcommands

        def get_help(self, ctx: click.Context) -> str:
            return self._target().get_help(ctx)

    lazy_commands = [  # (group, name, "module:command", help); the benchmarks build their own databases
        (bench, "startup", "api.benchmarks.startup:startup",
         "Time from starting the server to its first healthy /healthz."),
        (bench, "recsys", "experiments.cli:recsys", "Offline recommender benchmark on MovieLens-100k (folds u1..u5)."),
        (bench, "booking", "api.benchmarks.booking:booking",
         "Booking throughput with 16 clients and the 200-client conflict test."),
        (bench, "search", "api.benchmarks.search:search", "Search latency through HTTP against the direct-SQL floor."),
        (bench, "serving", "api.benchmarks.serving:serving",
         "Recommendation endpoint latency and throughput against `mlflow models serve`."),
        (bench, "chat", "api.benchmarks.chat:chat", "Chat delivery across eventlet workers on the Redis queue."),
        (bench, "admin-mentors", "api.benchmarks.admin_mentors:admin_mentors",
         "The admin's mentors list (pages, status filter, JSON API) on a demo world of N mentors."),
        (bench, "planted", "api.benchmarks.planted:planted",
         "A world with planted tastes through `pipeline all` and the served endpoint: P@10, overlap@10 per model."),
        (cli, "run-jobs", "api.bookings.jobs:run_jobs_command",
         "Periodic jobs: expire unanswered requests, complete sessions, send reminders."),
        (cli, "jobs", "api.scheduler:jobs_command",
         "Every periodic job once (bookings, payment reconciliation, ranking); --loop: a dedicated jobs process."),
        (cli, "import", "api.importer.command:import_command",
         "Import users, mentor profiles, bookings, payments and reviews from CSV or Parquet files."),
        (cli, "refresh-ranking", "api.search.ranking_columns:refresh_ranking_command",
         "Re-sync the search ranking columns (rating prior, 90-day popularity, prices)."),
        (payments, "reconcile", "api.payments.reconcile:reconcile_command",
         "Settle payments stuck between states; cancel unpaid requests."),
        (cli, "screenshots", "api.screenshots:screenshots",
         "Full-page screenshots of every main page for each role, at 1280 and 390 px wide."),
    ]
    for group, name, import_path, help_text in lazy_commands:
        # benchmarks build their own databases; screenshots seeds its own world (or checks --var-dir's)
        group.add_command(LazyCommand(name, import_path, help_text, make_obj=LAZY_OBJECTS.get(name),
                                      needs_db=group is not bench and name != "screenshots"))
    cli.add_command(LazyCommand("pipeline", "pipelines.cli:pipeline",
                                "ML pipelines (Prefect flows): ingest, train, promote, monitor, all, serve.",
                                make_obj=_pipeline_settings, needs_db=frozenset({"ingest", "all"})))


def _planted_world() -> dict:
    """What `bench planted` (in api/) needs from experiments/, which the app may not import: the world generator."""
    from experiments import planted

    return {"planted": planted}


LAZY_OBJECTS = {"planted": _planted_world, "run-jobs": _app, "reconcile": _app, "refresh-ranking": _app}  # lazy command -> its click obj

PIPELINE_STEPS = {
    "all": "Running the ML pipeline: ingest, train every model family, promote, monitor (a few minutes)",
    "ingest": "Ingesting events and features",
    "train": "Training every model family",
    "promote": "Promoting the best candidate",
    "monitor": "Writing the drift and quality reports",
}


def _quiet_prefect_at_exit() -> None:
    """Prefect stops its temporary API server at exit and says so on the terminal, after the summary: it
    must stop then (its log shipping still needs it), so only its info lines are silenced."""
    import logging

    logging.getLogger("prefect").setLevel(logging.WARNING)


def _pipeline_settings() -> dict:
    """What the pipelines need from the settings (they may not import api themselves)."""
    from api.settings import get_settings

    settings = get_settings()
    return {"database_url": settings.sqlalchemy_database_uri, "var_dir": str(settings.var_dir),
            "mlflow_uri": settings.mlflow_uri, "online_store": settings.feast_online_store,
            "redis_url": settings.redis_url, "prefect_api_url": settings.prefect_api_url, "now": settings.clock_now}


_attach_lazy_commands()


if __name__ == "__main__":
    cli()
