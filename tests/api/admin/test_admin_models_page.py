"""The Models page: each registered version shows its alias (champion, challenger), read from a real MLflow registry;
the MLflow UI is linked only when it answers, otherwise the page says how to start it."""
from __future__ import annotations

import re
import socket

import pytest

pytestmark = pytest.mark.slow  # imports mlflow and builds a registry

MODEL = "mentorhub-recommender"


@pytest.fixture
def registry(settings, tmp_path):
    """Three registered versions: 2 is champion, 3 is challenger, 1 has no alias."""
    from mlflow import MlflowClient

    uri = settings.mlflow_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    for family in ("popularity", "item-knn", "content-tfidf"):
        source = tmp_path / f"model-{family}"
        source.mkdir()
        client.create_model_version(MODEL, source=str(source), tags={"family": family, "ndcg_at_10": "0.25"})
    client.set_registered_model_alias(MODEL, "champion", "2")
    client.set_registered_model_alias(MODEL, "challenger", "3")
    return uri


def _with_ui_at(app, url: str) -> None:
    app.config["MENTORHUB_SETTINGS"] = app.config["MENTORHUB_SETTINGS"].model_copy(update={"mlflow_ui_url": url})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_each_version_shows_its_alias_and_the_ui_is_not_a_dead_link(app, admin, registry):
    _with_ui_at(app, f"http://127.0.0.1:{_closed_port()}")
    page = admin.client.get("/admin/models").get_data(as_text=True)
    assert "Open the MLflow UI" not in page  # no link before anyone knows that the UI answers

    fragment = admin.client.get("/admin/models/registry").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-version="(\d+)">(.*?)</tr>', fragment, flags=re.S))
    assert sorted(rows) == ["1", "2", "3"]
    assert re.findall(r">(champion|challenger)</span>", rows["2"]) == ["champion"]
    assert re.findall(r">(champion|challenger)</span>", rows["3"]) == ["challenger"]
    assert re.findall(r">(champion|challenger)</span>", rows["1"]) == []
    summary = re.search(r'<p class="registry-aliases".*?</p>', fragment).group(0)
    assert re.sub(r"<[^>]+>", "", summary) == "champion version 2 · challenger version 3"
    assert "Open the MLflow UI" not in fragment and "make mlflow-ui" in fragment  # how to start it instead

    versions = {v["version"]: v["aliases"] for v in admin.get("/api/v1/admin/registry").get_json()["versions"]}
    assert versions == {"3": ["challenger"], "2": ["champion"], "1": []}


def test_the_mlflow_ui_is_linked_when_it_answers(app, admin, registry, httpserver):
    httpserver.expect_request("/").respond_with_data("<html>MLflow</html>", content_type="text/html")
    _with_ui_at(app, httpserver.url_for("/"))
    fragment = admin.client.get("/admin/models/registry").get_data(as_text=True)
    assert f'<a href="{httpserver.url_for("/")}"' in fragment and "Open the MLflow UI" in fragment
    assert "make mlflow-ui" not in fragment
