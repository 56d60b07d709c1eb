"""A small seeded world trained once per session through the real pipeline (the pipeline tests' world builder)."""
from __future__ import annotations

import pytest

from models import clock
from tests.conftest import WORLD_NOW

SERVING_WORLD = {"learners": 160, "mentors": 48, "days": 90, "seed": 11}  # mentors: topics new to a learner exist
FAMILIES = ["content-tfidf", "ease"]


@pytest.fixture(scope="session")
def serving_world(prefect_harness, world_builder, tmp_path_factory) -> dict:
    """Seed a world and run `all` once (two families, no reports): a registry with champion and challenger.

    The world lives at WORLD_NOW: the product's clock is fixed at it while it is seeded, while the pipeline runs
    (`rerun` too) and while a test uses `world_app`, so the world and its models are the same on any date.
    """
    from pipelines.all import run_all

    var_dir = tmp_path_factory.mktemp("serving-world") / "var"
    var_dir.mkdir(parents=True)
    database_url = world_builder.seed_world(var_dir, **SERVING_WORLD)
    mlflow_uri = f"sqlite:///{var_dir / 'mlflow.db'}"
    with clock.fixed(WORLD_NOW):
        result = run_all(database_url, str(var_dir), mlflow_uri, families=FAMILIES, monitor_reports=False)

    def rerun(families=FAMILIES):
        with clock.fixed(WORLD_NOW):
            return run_all(database_url, str(var_dir), mlflow_uri, families=families, monitor_reports=False)

    return {"var_dir": var_dir, "database_url": database_url, "mlflow_uri": mlflow_uri, "result": result,
            "rerun": rerun}


@pytest.fixture
def world_app(serving_world, fixed_clock):
    """The app on the trained world's database and registry (polls on every request), at the world's "now"."""
    from api import create_app
    from api.extensions import db
    from api.settings import Settings

    settings = Settings(_env_file=None, profile="testing", secret_key="test-secret-key-not-for-production",
                        var_dir=serving_world["var_dir"], database_url="", socketio_async_mode="threading",
                        redis_url="", mlflow_tracking_uri=serving_world["mlflow_uri"], serving_poll_seconds=0.0,
                        serving_first_load_wait_seconds=60.0, serving_ab_check_seconds=0)
    app = create_app(settings=settings)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
