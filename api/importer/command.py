"""The `mentorhub import` command."""
from __future__ import annotations

from pathlib import Path

import click

from api import create_app
from api.importer import FileProblems, ImportFailed, run_import

MAX_PROBLEMS_SHOWN = 50


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--skip-bad", is_flag=True,
              help="Write the good rows and list the bad ones in the report, instead of writing nothing.")
@click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the report of bad rows (CSV); default: var/imports/import-report-<time>.csv.")
@click.option("--dry-run", is_flag=True, help="Check every row and say what would be added; write nothing.")
def import_command(paths: tuple[Path, ...], skip_bad: bool, report: Path | None, dry_run: bool) -> None:
    """Import users, mentor profiles, bookings, payments and reviews from CSV or Parquet files.

    PATHS are files named after their table (topics, users, mentors, bookings, payments, reviews; .csv or
    .parquet) or directories holding such files. The schema is in README.md ("Importing a platform's data").
    """
    app = create_app()
    with app.app_context():
        try:
            result = run_import(list(paths), skip_bad=skip_bad, report=report, dry_run=dry_run)
        except FileProblems as error:
            raise click.ClickException("Nothing was imported; the files cannot be used:\n"
                                       + "\n".join(f"  {p}" for p in error.problems)) from None
        except ImportFailed as error:
            failed = error.result
            raise click.ClickException(
                f"Nothing was imported: {failed.skipped_rows} bad row(s).\n" + _problems_text(failed)
                + "\nFix them and run again, or pass --skip-bad to import the good rows.") from None
    files = ", ".join(str(path) for path in result.files.values())
    click.echo(f"{'Checked (dry run, nothing written)' if dry_run else 'Imported'}: {files}")
    for table, added in result.added.items():
        there = result.already_there.get(table, 0)
        if added or there:
            click.echo(f"  {table}: {added} {'to add' if dry_run else 'added'}"
                       + (f", {there} already there" if there else ""))
    if result.skipped_rows:
        click.echo(f"Skipped {result.skipped_rows} bad row(s):\n{_problems_text(result)}")


def _problems_text(result) -> str:
    lines = [f"  {problem}" for problem in result.problems[:MAX_PROBLEMS_SHOWN]]
    if len(result.problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  ... and {len(result.problems) - MAX_PROBLEMS_SHOWN} more")
    if result.report:
        lines.append(f"Report of every bad row: {result.report}")
    return "\n".join(lines)
