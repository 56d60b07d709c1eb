"""Every notebook runs top to bottom on a small world that went through the pipeline."""
from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "1.0-explore-interactions.ipynb", "2.0-compare-models.ipynb", "3.0-feature-store.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, notebook_world, monkeypatch, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MENTORHUB_VAR_DIR", str(notebook_world["var_dir"]))
    monkeypatch.setenv("MENTORHUB_MLFLOW_URI", notebook_world["mlflow_uri"])
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    (tmp_path / path.name).write_text(nbformat.writes(nb))
