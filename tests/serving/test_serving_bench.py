"""`mentorhub bench serving` end to end on a small world: both servers, every exposure written, the figures."""
from __future__ import annotations

import json

from click.testing import CliRunner


def test_bench_serving_runs_both_servers_and_writes_the_figures(tmp_path):
    from api.benchmarks.serving import serving

    out = tmp_path / "serving.json"
    result = CliRunner().invoke(serving, ["--learners", "300", "--mentors", "60", "--requests", "120",
                                          "--var-dir", str(tmp_path / "world"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    for key in ("p50_ms", "p99_ms", "rps", "mlflow_p99_ms", "mlflow_rps", "ratio_rps"):
        assert figures[key] > 0, key
    assert figures["requests"] == 120
    # every response with recommendations logged its exposure (a filter that leaves no mentor logs none)
    assert figures["exposure_rows_found"] == figures["exposure_ids_returned"] >= 100
    assert "throughput ratio" in result.output
