"""A seeded demo world run through the whole pipeline once per test session (shared with the notebook tests).

The first `all` run fails on purpose (an injected error in the promote flow); the second run
must resume: nothing trained twice, nothing logged twice.

Every world lives at one fixed instant, WORLD_NOW (the product's clock is fixed at it while the world is seeded
and while the pipelines run on it), so its rows and the models trained on them are the same on any date.
"""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from models import clock
from tests.conftest import WORLD_NOW

WORLD = {"learners": 500, "mentors": 50, "days": 120, "seed": 7}
WORLD_UNTIL: date = (WORLD_NOW - timedelta(days=1)).date()  # the last simulated day: the world's "now" is WORLD_NOW
_built: dict[str, dict] = {}


class InjectedFailure(RuntimeError):
    """The failure the resume scenario injects."""


def seed_world(var_dir: Path, learners: int, mentors: int, days: int, seed: int, until: date = WORLD_UNTIL) -> str:
    """A migrated SQLite database under var_dir with a generated demo world ending at WORLD_NOW; returns its URL."""
    from flask_migrate import upgrade

    from api import create_app
    from api.cli import DEMO_LOGINS, DEMO_PASSWORD
    from api.demo.world import WorldSpec, generate_world
    from api.extensions import db
    from api.settings import Settings

    settings = Settings(_env_file=None, profile="testing", secret_key="test-secret-key-not-for-production",
                        var_dir=var_dir, database_url="", socketio_async_mode="threading", redis_url="",
                        mlflow_tracking_uri=f"sqlite:///{var_dir / 'mlflow.db'}")
    app = create_app(settings=settings)
    with clock.fixed(WORLD_NOW), app.app_context():
        upgrade()
        generate_world(WorldSpec(learners=learners, mentors=mentors, days=days, seed=seed, until=until),
                       demo_password=DEMO_PASSWORD, demo_logins=DEMO_LOGINS, progress=False)
        db.session.remove()
        db.engine.dispose()
    return settings.sqlalchemy_database_uri


def build(root: Path) -> dict:
    """Seed, run `all` with an injected failure, rerun it; returns what the tests assert on."""
    key = "world"
    if key in _built:
        return _built[key]
    from pipelines import modelling
    from pipelines.all import run_all

    var_dir = root / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    database_url = seed_world(var_dir, **WORLD)
    mlflow_uri = f"sqlite:///{var_dir / 'mlflow.db'}"
    fits: list[str] = []
    refits: list[str] = []
    original_fit, original_refit, original_rank = modelling.fit_family, modelling.refit_family, \
        modelling.rank_candidates

    def counting_fit(name, data):
        fits.append(name)
        return original_fit(name, data)

    def counting_refit(name, data):
        refits.append(name)
        return original_refit(name, data)

    def failing_rank(*args, **kwargs):
        raise InjectedFailure("injected failure while promoting")

    modelling.fit_family, modelling.refit_family, modelling.rank_candidates = counting_fit, counting_refit, failing_rank
    first_error = None
    previous_clock = clock.set_now(WORLD_NOW)  # the pipelines run at the world's "now", on any date
    try:
        try:
            run_all(database_url, str(var_dir), mlflow_uri)
        except Exception as error:  # noqa: BLE001 - the injected failure surfaces as the flow's failure
            first_error = error
        fits_first, refits_first = list(fits), list(refits)
        fits.clear()
        refits.clear()
        modelling.rank_candidates = original_rank
        result = run_all(database_url, str(var_dir), mlflow_uri)
        fits_second, refits_second = list(fits), list(refits)
    finally:
        modelling.fit_family, modelling.refit_family, modelling.rank_candidates = original_fit, original_refit, \
            original_rank
        clock.set_now(previous_clock)
    _built[key] = {"var_dir": var_dir, "database_url": database_url, "mlflow_uri": mlflow_uri,
                   "first_error": first_error, "fits_first": fits_first, "fits_second": fits_second,
                   "refits_first": refits_first, "refits_second": refits_second,
                   "result": result}
    return _built[key]
