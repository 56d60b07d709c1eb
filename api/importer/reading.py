"""Reading the import files (CSV or Parquet) into rows of plain Python values, and typed cell parsers."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from api.importer.schema import FILE_SUFFIXES, LIST_SEPARATOR, TABLES


@dataclass(frozen=True)
class Problem:
    """What is wrong with one row (or a whole file, `row` None), naming the file, row and field."""

    file: str
    row: int | None
    field: str | None
    message: str
    value: str = ""

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, row {self.row}"
        if self.field:
            where += f", field {self.field}"
        shown = f" (value: {self.value!r})" if self.value else ""
        return f"{where}: {self.message}{shown}"


class FileProblems(Exception):
    """The files themselves are unusable (unknown name, unreadable, missing or unknown columns)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass
class SourceRow:
    """One data row of a file: `number` counts data rows from 1 (in a CSV file it is on line number + 1)."""

    file: str
    number: int
    values: dict[str, object]
    problems: list[Problem] = field(default_factory=list)

    def problem(self, column: str | None, message: str) -> None:
        value = self.values.get(column) if column else None
        self.problems.append(Problem(self.file, self.number, column, message, "" if value is None else _shown(value)))

    @property
    def bad(self) -> bool:
        return bool(self.problems)


def _shown(value) -> str:
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def find_files(paths: list[Path]) -> dict[str, Path]:
    """table name -> file, from files named <table>.csv / .parquet and from directories holding such files."""
    found: dict[str, Path] = {}
    problems: list[Problem] = []

    def add(path: Path, from_directory: bool) -> None:
        table = path.name[: -len(path.suffix)].lower() if path.suffix.lower() in FILE_SUFFIXES else None
        if table not in TABLES:
            if not from_directory:
                problems.append(Problem(path.name, None, None, "not an import file: name it "
                                        + ", ".join(f"{t}.csv" for t in TABLES) + " (or .parquet)"))
            return
        if table in found:
            problems.append(Problem(path.name, None, None, f"two files for the {table} table: {found[table]} and {path}"))
            return
        found[table] = path

    for path in paths:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file():
                    add(child, True)
        elif path.is_file():
            add(path, False)
        else:
            problems.append(Problem(str(path), None, None, "no such file or directory"))
    if not found and not problems:
        problems.append(Problem(", ".join(map(str, paths)), None, None, "no import files found (expected "
                                + ", ".join(f"{t}.csv" for t in TABLES) + " or the same names in .parquet)"))
    if problems:
        raise FileProblems(problems)
    return {table: found[table] for table in TABLES if table in found}


def read_rows(table: str, path: Path) -> list[SourceRow]:
    """The file's rows, empty cells as None; FileProblems when it cannot be read or its columns are wrong."""
    name = path.name
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
        else:
            frame = pd.read_parquet(path)
    except Exception as error:  # noqa: BLE001 (pandas and pyarrow raise many kinds; the message says enough)
        raise FileProblems([Problem(name, None, None, f"cannot be read: {error}")]) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    columns = TABLES[table]
    known = {c.name for c in columns}
    problems = []
    missing = [c.name for c in columns if c.required and c.name not in frame.columns]
    if missing:
        problems.append(Problem(name, None, None, "missing required column(s): " + ", ".join(missing)))
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        problems.append(Problem(name, None, None, "unknown column(s): " + ", ".join(unknown)
                                + "; the columns are: " + ", ".join(c.name for c in columns)))
    if len(set(frame.columns)) != len(frame.columns):
        problems.append(Problem(name, None, None, "a column appears twice"))
    if problems:
        raise FileProblems(problems)
    rows = []
    for number, record in enumerate(frame.to_dict("records"), start=1):
        values = {key: _plain(value) for key, value in record.items()}
        if all(value is None for value in values.values()):
            continue  # a blank line
        rows.append(SourceRow(name, number, values))
    return rows


def _plain(value):
    """A cell as a plain Python value: None for empty, missing and NaN; lists for arrays."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# ---------------------------------------------------------------- typed cells (ValueError says what is wrong)

_INTEGER = re.compile(r"^[+-]?\d+$")
_INTEGRAL_DECIMAL = re.compile(r"^[+-]?\d+\.0*$")


def as_text(value) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value).strip()


def as_integer(value) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip().replace("_", "")
    if _INTEGER.match(text):
        return int(text)
    if _INTEGRAL_DECIMAL.match(text):  # "45.0", as spreadsheets and pandas write whole numbers of a float column
        return int(text.split(".")[0])
    raise ValueError("must be a whole number (money is in minor units, e.g. 4500 for 45.00)")


def as_list(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value if v is not None]
    else:
        items = [part.strip() for part in str(value).split(LIST_SEPARATOR)]
    return [item for item in items if item]


def as_datetime(value) -> datetime:
    """An aware instant: ISO 8601 text with its UTC offset ("2025-03-01T09:00:00Z"), or a zoned timestamp."""
    if isinstance(value, datetime):
        instant = value
    else:
        text = str(value).strip()
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("must be an ISO 8601 time with its UTC offset, e.g. 2025-03-01T09:00:00Z") from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("give the time with its UTC offset, e.g. 2025-03-01T09:00:00Z or 2025-03-01T10:00:00+01:00")
    return instant

