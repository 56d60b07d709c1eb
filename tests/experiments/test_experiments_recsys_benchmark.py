"""The benchmark harness on a tiny synthetic MovieLens-format directory written into tmp_path."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from experiments.cli import recsys
from experiments.recsys_benchmark import default_model_names, format_table, model_specs, run_benchmark

N_USERS, N_ITEMS = 30, 24
FAST_MODELS = ["peer-baseline-only", "peer-svd", "peer-popularity", "peer-item-knn-cosine", "ease"]


def _write_tiny_movielens(root):
    """Two taste groups: users like items of their own half (genre) and dislike the other half."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines_all, base, test = [], [], []
    t = 880000000
    for u in range(1, N_USERS + 1):
        own = range(1, N_ITEMS // 2 + 1) if u % 2 else range(N_ITEMS // 2 + 1, N_ITEMS + 1)
        other = [i for i in range(1, N_ITEMS + 1) if i not in own]
        chosen = [(i, int(rng.choice([4, 5]))) for i in rng.choice(list(own), 8, replace=False)]
        chosen += [(int(i), int(rng.choice([1, 2]))) for i in rng.choice(other, 3, replace=False)]
        for n, (i, r) in enumerate(chosen):
            line = f"{u}\t{int(i)}\t{r}\t{t}"
            t += 1
            lines_all.append(line)
            (test if n in (0, 1, 8) else base).append(line)
    (root / "u.data").write_text("\n".join(lines_all) + "\n")
    (root / "u1.base").write_text("\n".join(base) + "\n")
    (root / "u1.test").write_text("\n".join(test) + "\n")
    items = []
    for i in range(1, N_ITEMS + 1):
        genres = ["0"] * 19
        genres[1 if i <= N_ITEMS // 2 else 8] = "1"
        items.append(f"{i}|Movie {i} (1990)|01-Jan-1990||http://example.invalid|" + "|".join(genres))
    (root / "u.item").write_text("\n".join(items) + "\n")
    users = [f"{u}|{20 + u}|{'F' if u % 2 else 'M'}|student|0000{u}" for u in range(1, N_USERS + 1)]
    (root / "u.user").write_text("\n".join(users) + "\n")
    return root


@pytest.fixture
def tiny_movielens(tmp_path):
    return _write_tiny_movielens(tmp_path / "ml-tiny")


def test_run_benchmark_writes_the_documented_json(tiny_movielens, tmp_path):
    out = tmp_path / "result.json"
    result = run_benchmark(tiny_movielens, folds=[1], models=FAST_MODELS, json_path=out, progress=False)
    on_disk = json.loads(out.read_text())
    assert on_disk["folds"] == [1]
    assert set(on_disk["peers"]) == {"peer-baseline-only", "peer-svd", "peer-popularity", "peer-item-knn-cosine"}
    assert on_disk["ours"] == ["ease"]
    for name in FAST_MODELS:
        assert set(on_disk["models"][name]) == {"rmse", "mae", "precision_at_10", "recall_at_10", "ndcg_at_10",
                                                "fit_seconds"}
    assert on_disk["models"]["peer-popularity"]["rmse"] is None
    assert on_disk["models"]["peer-baseline-only"]["precision_at_10"] is None
    assert 0 < on_disk["models"]["peer-svd"]["rmse"] < 2
    # the taste groups are obvious: a collaborative ranker finds them, popularity cannot
    assert result["models"]["ease"]["precision_at_10"] > result["models"]["peer-popularity"]["precision_at_10"]
    assert "peer-svd" in format_table(result)


def test_run_benchmark_rejects_unknown_models(tiny_movielens):
    with pytest.raises(ValueError):
        run_benchmark(tiny_movielens, folds=[1], models=["no-such-model"], progress=False)


def test_every_default_model_has_a_spec():
    specs = model_specs()
    assert {"neural-hybrid", "blend", "ease", "ltr", "peer-svd", "peer-knn-baseline-item"} <= set(specs)
    assert "ltr" in default_model_names()


def test_learning_to_rank_runs_in_the_harness(tiny_movielens):
    result = run_benchmark(tiny_movielens, folds=[1], models=["ltr", "peer-popularity"], progress=False)
    ltr = result["models"]["ltr"]
    assert ltr["rmse"] is None and ltr["ndcg_at_10"] is not None  # a ranker: scored on the top-N task only
    assert ltr["precision_at_10"] > result["models"]["peer-popularity"]["precision_at_10"]


def test_cli_runs_a_subset_and_prints_the_table(tiny_movielens, tmp_path):
    out = tmp_path / "cli.json"
    res = CliRunner().invoke(
        recsys, ["--data", str(tiny_movielens), "--folds", "1", "--models", "peer-popularity,ease",
                 "--json", str(out), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    assert "peer-popularity" in res.output and out.exists()
    bad = CliRunner().invoke(recsys, ["--data", str(tiny_movielens), "--folds", "9"])
    assert bad.exit_code != 0


@pytest.mark.slow
def test_mlflow_logging_records_one_run_per_model(tiny_movielens, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_benchmark(tiny_movielens, folds=[1], models=["peer-popularity", "ease"], progress=False,
                  mlflow_tracking_uri=uri)
    client = mlflow.tracking.MlflowClient(uri)
    exp = client.get_experiment_by_name("offline-benchmark-ml100k")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.data.tags["model"] for r in runs) == ["ease", "peer-popularity"]
    assert all("precision_at_10" in r.data.metrics for r in runs)


@pytest.mark.slow
def test_hybrid_models_run_in_the_harness(tiny_movielens):
    result = run_benchmark(tiny_movielens, folds=[1], models=["neural-hybrid", "ease-x-svdpp"], progress=False)
    assert result["models"]["neural-hybrid"]["rmse"] is not None
    assert result["models"]["ease-x-svdpp"]["ndcg_at_10"] is not None
