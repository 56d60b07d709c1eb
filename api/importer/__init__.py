"""`mentorhub import`: bring a platform's existing data in from CSV or Parquet files (schema: README.md).

Every row is checked with the app's own rules before anything is written; then everything is written in
one transaction, or nothing. With `skip_bad` the good rows are written and the bad ones listed in a report.
Rows already in the database (same e-mail, topic slug or external id) are left alone: a second run adds
nothing. After the commit the search's ranking columns and free-slot index are brought up to date.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from models import clock
from api.extensions import db
from api.importer.checking import Checker, Plan
from api.importer.reading import FileProblems, Problem, find_files, read_rows
from api.importer.schema import TABLES
from api.importer.writing import Writer
from api.search import free_slots, ranking_columns
from api.settings import current_settings

__all__ = ["FileProblems", "ImportFailed", "ImportResult", "Problem", "run_import"]

_CHECKS = {"topics": "topics", "users": "users_file", "mentors": "mentors_file", "bookings": "bookings_file",
           "payments": "payments_file", "reviews": "reviews_file"}


@dataclass
class ImportResult:
    files: dict[str, Path]
    added: dict[str, int] = field(default_factory=dict)
    already_there: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    skipped_rows: int = 0
    report: Path | None = None
    written: bool = False


class ImportFailed(Exception):
    """Some rows are bad and `skip_bad` was not given: nothing was written."""

    def __init__(self, result: ImportResult):
        super().__init__(f"{result.skipped_rows} bad row(s); nothing was imported")
        self.result = result


def run_import(paths: list[Path], *, skip_bad: bool = False, report: Path | None = None,
               dry_run: bool = False) -> ImportResult:
    """Check and import the files (inside an app context). Raises FileProblems for unusable files, and
    ImportFailed when a row is bad without `skip_bad`; the report (when there are bad rows) goes to `report`."""
    files = find_files([Path(p) for p in paths])
    rows = {}
    file_problems: list[Problem] = []
    for table, path in files.items():
        try:
            rows[table] = read_rows(table, path)
        except FileProblems as error:
            file_problems.extend(error.problems)
    if file_problems:
        raise FileProblems(file_problems)
    result = ImportResult(files=files)
    try:
        plan = _check(rows)
        result.already_there = dict(plan.already_there)
        result.problems = [problem for row in sorted(plan.bad, key=_order) for problem in row.problems]
        result.skipped_rows = len(plan.bad)
        if plan.bad:
            result.report = _write_report(plan, report)
        if plan.bad and not skip_bad:
            raise ImportFailed(result)
        if dry_run:
            result.added = {table: len(getattr(plan, table)) for table in TABLES}
            return result
        result.added = Writer(plan).write()
        db.session.commit()
        result.written = True
    finally:
        db.session.rollback()  # nothing half-written stays in the session (after a commit: a no-op)
    if any(result.added.values()):
        _refresh_search()
    return result


def _check(rows: dict) -> Plan:
    checker = Checker()
    for table, method in _CHECKS.items():
        if table in rows:
            getattr(checker, method)(rows[table])
    return checker.plan


def _order(row) -> tuple:
    return list(TABLES).index(row.file.rsplit(".", 1)[0].lower()), row.number


def _refresh_search() -> None:
    """The ranking columns (prior mean, 90-day popularity) and the free-slot index, current now, not in a minute."""
    ranking_columns.refresh(force=True)
    free_slots.refresh()


def default_report_path() -> Path:
    var_dir = Path(current_settings().var_dir)
    return var_dir / "imports" / f"import-report-{clock.now():%Y%m%dT%H%M%SZ}.csv"


def _write_report(plan: Plan, path: Path | None) -> Path:
    """One line per problem of each bad row: file, row, field, problem, value, and the row's data (JSON)."""
    path = Path(path) if path else default_report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "field", "problem", "value", "data"])
        for row in sorted(plan.bad, key=_order):
            data = json.dumps(row.values, default=str, ensure_ascii=False)
            for problem in row.problems:
                writer.writerow([problem.file, problem.row, problem.field or "", problem.message, problem.value, data])
    return path
