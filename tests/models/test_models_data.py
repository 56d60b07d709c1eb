import pandas as pd
import pytest

from models.constants import CATEGORIES_COL, INTERACTION_COLUMNS, ITEM_COL, RATING_COL
from models.data import (
    load_interactions_parquet,
    load_movielens_fold,
    load_movielens_items,
    load_movielens_ratings,
)


def _write_movielens(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t5\t881250949\n2\t10\t3\t881250950\n")
    (tmp_path / "u1.base").write_text("1\t10\t5\t881250949\n")
    (tmp_path / "u1.test").write_text("2\t10\t3\t881250950\n")
    genres = ["0"] * 19
    genres[1] = "1"  # Action
    genres[15] = "1"  # Sci-Fi
    line = "10|Caf\xe9 Movie (1995)|01-Jan-1995||http://example.invalid|" + "|".join(genres) + "\n"
    (tmp_path / "u.item").write_bytes(line.encode("latin-1"))


def test_movielens_loaders_read_the_standard_format(tmp_path):
    _write_movielens(tmp_path)
    ratings = load_movielens_ratings(tmp_path)
    assert list(ratings.columns) == list(INTERACTION_COLUMNS)
    assert ratings[RATING_COL].tolist() == [5.0, 3.0]
    train, test = load_movielens_fold(tmp_path, 1)
    assert len(train) == 1 and len(test) == 1
    items = load_movielens_items(tmp_path)
    assert items.loc[0, ITEM_COL] == 10
    assert items.loc[0, CATEGORIES_COL] == ["Action", "Sci-Fi"]
    assert items.loc[0, "year"] == 1995
    assert "Café Movie" in items.loc[0, "text"]


def test_movielens_loader_rejects_bad_fold_and_missing_dir(tmp_path):
    with pytest.raises(ValueError):
        load_movielens_fold(tmp_path, 6)
    with pytest.raises(FileNotFoundError):
        load_movielens_ratings(tmp_path / "missing")


def test_parquet_loader_fills_optional_columns(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "events.parquet"
    pd.DataFrame({"user_id": [1, 2], "item_id": [3, 4], "extra": ["x", "y"]}).to_parquet(path)
    frame = load_interactions_parquet(path)
    assert list(frame.columns)[:4] == list(INTERACTION_COLUMNS)
    assert frame[RATING_COL].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        pd.DataFrame({"user_id": [1]}).to_parquet(tmp_path / "bad.parquet")
        load_interactions_parquet(tmp_path / "bad.parquet")
