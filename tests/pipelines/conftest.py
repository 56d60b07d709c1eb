"""Flows run against Prefect's test harness (`prefect_harness` in tests/conftest.py), once for the session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pipeline_world(prefect_harness, world_builder, tmp_path_factory) -> dict:
    """A seeded world that went through `all` twice: once failing on purpose, once resuming."""
    return world_builder.build(tmp_path_factory.mktemp("pipeline-world"))
