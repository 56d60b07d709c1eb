"""Flows run against Prefect's test harness (a temporary database), once for the session."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def load_world_builder():
    """tests/pipelines/world_builder.py as one module, whichever test folder asks for it."""
    name = "mentorhub_pipeline_world_builder"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("world_builder.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """Prefect's test harness, with results and Prefect's home inside the session's temporary folder."""
    import os

    from pipelines.common import configure_prefect

    saved = dict(os.environ)
    configure_prefect(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    try:
        with prefect_test_harness(server_startup_timeout=120):
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def pipeline_world(prefect_harness, tmp_path_factory) -> dict:
    """A seeded world that went through `all` twice: once failing on purpose, once resuming."""
    return load_world_builder().build(tmp_path_factory.mktemp("pipeline-world"))


@pytest.fixture(scope="session")
def world_builder():
    """The world builder module (seed_world, build)."""
    return load_world_builder()
