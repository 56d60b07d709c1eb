"""Data loaders: MovieLens-100k (for offline benchmarks) and the app's Parquet export.

The MovieLens files are read from a directory given by the caller; never copy them into
the repository (their licence forbids redistribution).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.constants import (
    CATEGORIES_COL,
    INTERACTION_COLUMNS,
    ITEM_COL,
    RATING_COL,
    TEXT_COL,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
)

MOVIELENS_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
MOVIELENS_ENCODING = "latin-1"


def _read_ratings(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"MovieLens file not found: {path}")
    frame = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=list(INTERACTION_COLUMNS),
        dtype={USER_COL: np.int64, ITEM_COL: np.int64, RATING_COL: np.float64, TIMESTAMP_COL: np.int64},
    )
    return frame


def load_movielens_ratings(data_dir: str | Path, filename: str = "u.data") -> pd.DataFrame:
    """Ratings file (u.data, uN.base, uN.test, ...) as user_id, item_id, rating, timestamp."""
    return _read_ratings(Path(data_dir) / filename)


def load_movielens_fold(data_dir: str | Path, fold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The canonical fold ``fold`` (1..5): (uN.base as train, uN.test as test)."""
    if fold not in (1, 2, 3, 4, 5):
        raise ValueError(f"MovieLens-100k folds are 1..5, got {fold}")
    return (
        load_movielens_ratings(data_dir, f"u{fold}.base"),
        load_movielens_ratings(data_dir, f"u{fold}.test"),
    )


def load_movielens_items(data_dir: str | Path) -> pd.DataFrame:
    """Movies from u.item: item_id, title, year, one 0/1 column per genre, categories (genre list) and text."""
    path = Path(data_dir) / "u.item"
    if not path.is_file():
        raise FileNotFoundError(f"MovieLens file not found: {path}")
    cols = [ITEM_COL, TITLE_COL, "release_date", "video_release_date", "imdb_url", *MOVIELENS_GENRES]
    raw = pd.read_csv(path, sep="|", header=None, names=cols, encoding=MOVIELENS_ENCODING)
    genres = raw[list(MOVIELENS_GENRES)].astype(np.int64)
    items = pd.DataFrame({ITEM_COL: raw[ITEM_COL].astype(np.int64), TITLE_COL: raw[TITLE_COL].fillna("")})
    year = pd.to_datetime(raw["release_date"], format="%d-%b-%Y", errors="coerce").dt.year
    items["year"] = year.fillna(year.median()).astype(np.float64)
    for g in MOVIELENS_GENRES:
        items[f"genre_{g}"] = genres[g].to_numpy()
    items[CATEGORIES_COL] = [
        [g for g in MOVIELENS_GENRES if row[g]] for row in genres.to_dict("records")
    ]
    items[TEXT_COL] = items[TITLE_COL].str.replace(r"\(\d{4}\)", "", regex=True).str.strip() + " " + [
        " ".join(c) for c in items[CATEGORIES_COL]
    ]
    return items


def load_movielens_users(data_dir: str | Path) -> pd.DataFrame:
    """Users from u.user: user_id, age, gender, occupation, zip_code."""
    path = Path(data_dir) / "u.user"
    if not path.is_file():
        raise FileNotFoundError(f"MovieLens file not found: {path}")
    return pd.read_csv(
        path,
        sep="|",
        header=None,
        names=[USER_COL, "age", "gender", "occupation", "zip_code"],
        dtype={USER_COL: np.int64, "age": np.float64, "gender": str, "occupation": str, "zip_code": str},
        encoding=MOVIELENS_ENCODING,
    )


def load_interactions_parquet(path: str | Path) -> pd.DataFrame:
    """Interactions exported by the app (a Parquet file or a directory of them) with the same columns.

    Required columns: user_id, item_id; rating and timestamp are optional (a missing rating
    becomes 1.0, i.e. implicit feedback). Extra columns are kept.
    """
    frame = pd.read_parquet(path)
    missing = {USER_COL, ITEM_COL} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}")
    if RATING_COL not in frame.columns:
        frame[RATING_COL] = 1.0
    if TIMESTAMP_COL not in frame.columns:
        frame[TIMESTAMP_COL] = 0
    ordered = list(INTERACTION_COLUMNS) + [c for c in frame.columns if c not in INTERACTION_COLUMNS]
    return frame[ordered]
