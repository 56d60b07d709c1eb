"""Tiny hand-made interaction data shared by the model tests."""

from __future__ import annotations

import pandas as pd
import pytest

from models.constants import CATEGORIES_COL, ITEM_COL, RATING_COL, TEXT_COL, TIMESTAMP_COL, USER_COL

# Items 1-4 are "python" (category A), items 5-8 are "design" (category B).
A_ITEMS = [1, 2, 3, 4]
B_ITEMS = [5, 6, 7, 8]


@pytest.fixture
def items() -> pd.DataFrame:
    rows = []
    for i in A_ITEMS:
        rows.append({ITEM_COL: i, CATEGORIES_COL: ["python"], TEXT_COL: f"python backend programming mentor {i}",
                     "price": 50.0 + i, "experience": 5.0})
    for i in B_ITEMS:
        rows.append({ITEM_COL: i, CATEGORIES_COL: ["design"], TEXT_COL: f"ux design figma illustration mentor {i}",
                     "price": 40.0 + i, "experience": 3.0})
    return pd.DataFrame(rows)


@pytest.fixture
def users() -> pd.DataFrame:
    rows = [{USER_COL: u, "gender": "F" if u % 2 else "M", "age": 20.0 + u,
             TEXT_COL: "python programming" if u < 14 else "design figma"} for u in range(1, 22)]
    return pd.DataFrame(rows)


@pytest.fixture
def interactions() -> pd.DataFrame:
    """Users 2-13 love category A, users 14-21 love B; each also dislikes one item of the other.

    User 1 liked items 1 and 2 and disliked 5, so items 3 and 4 (A) should be ranked above 6-8 (B).
    """
    rows = []
    t = 0
    groups = [(range(2, 14), A_ITEMS, B_ITEMS), (range(14, 22), B_ITEMS, A_ITEMS)]
    for members, liked, disliked in groups:
        for n, u in enumerate(members):
            for i in liked:
                rows.append((u, i, 5.0 if (u + i) % 3 else 4.0, t))
                t += 1
            rows.append((u, disliked[n % len(disliked)], 1.0 if u % 2 else 2.0, t))
            t += 1
    rows += [(1, 1, 5.0, t), (1, 2, 4.0, t + 1), (1, 5, 2.0, t + 2)]
    return pd.DataFrame(rows, columns=[USER_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL])
