"""A small seeded world trained once per session through the real pipeline (the pipeline tests' world builder)."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

SERVING_WORLD = {"learners": 160, "mentors": 24, "days": 90, "seed": 11}
FAMILIES = ["content-tfidf", "ease"]


def world_builder():
    name = "mentorhub_pipeline_world_builder"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "pipelines" / "world_builder.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def serving_prefect(tmp_path_factory):
    from pipelines.common import configure_prefect

    saved = dict(os.environ)
    configure_prefect(tmp_path_factory.mktemp("serving-prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    try:
        with prefect_test_harness(server_startup_timeout=120):
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def serving_world(serving_prefect, tmp_path_factory) -> dict:
    """Seed a world and run `all` once (two families, no reports): a registry with champion and challenger."""
    from pipelines.all import run_all

    var_dir = tmp_path_factory.mktemp("serving-world") / "var"
    var_dir.mkdir(parents=True)
    database_url = world_builder().seed_world(var_dir, **SERVING_WORLD)
    mlflow_uri = f"sqlite:///{var_dir / 'mlflow.db'}"
    result = run_all(database_url, str(var_dir), mlflow_uri, families=FAMILIES, monitor_reports=False)

    def rerun(families=FAMILIES):
        return run_all(database_url, str(var_dir), mlflow_uri, families=families, monitor_reports=False)

    return {"var_dir": var_dir, "database_url": database_url, "mlflow_uri": mlflow_uri, "result": result,
            "rerun": rerun}


@pytest.fixture
def world_app(serving_world):
    """The app on the trained world's database and registry (polls on every request)."""
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
