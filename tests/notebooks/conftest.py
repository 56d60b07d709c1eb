"""The notebooks run on the world the pipeline tests build (tests/pipelines/world_builder.py)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PIPELINE_TESTS = Path(__file__).resolve().parent.parent / "pipelines"


def _pipelines_conftest():
    name = "mentorhub_pipeline_tests_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PIPELINE_TESTS / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def notebook_world(request, tmp_path_factory) -> dict:
    """The pipeline world when the pipeline tests already built it in this session, else built here."""
    builder = _pipelines_conftest().load_world_builder()
    if "world" in builder._built:
        return builder._built["world"]
    harness = request.getfixturevalue("prefect_harness")
    assert harness is None
    return builder.build(tmp_path_factory.mktemp("pipeline-world"))


# the Prefect harness fixture, shared with tests/pipelines
prefect_harness = _pipelines_conftest().prefect_harness
