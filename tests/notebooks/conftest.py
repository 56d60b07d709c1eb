"""The notebooks run on the world the pipeline tests build (tests/pipelines/world_builder.py)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def notebook_world(request, world_builder, tmp_path_factory) -> dict:
    """The pipeline world when the pipeline tests already built it in this session, else built here."""
    if "world" in world_builder._built:
        return world_builder._built["world"]
    request.getfixturevalue("prefect_harness")
    return world_builder.build(tmp_path_factory.mktemp("pipeline-world"))
