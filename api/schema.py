"""Is the database migrated? Commands and the server ask before they touch it, and say what to run if not.

The rule: migrations are one deliberate step (`mentorhub db upgrade`; `make run` and docker-compose's
`migrate` service do it first), never a side effect of another command, because a command that
migrated on its own could change a shared PostgreSQL schema under running servers. Every other
command that needs the database checks here and stops with the command to run instead of a traceback.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE = "mentorhub db upgrade"


class SchemaNotReady(RuntimeError):
    """The database cannot serve this code yet; the message says what to run."""


def _where(url: str, article: str = "the") -> str:
    """The database, for a message: the SQLite file, or the URL without its password."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"{article} SQLite database {parsed.database or ':memory:'}"
    return f"{article} database {parsed.render_as_string(hide_password=True)}"


def head_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def current_revisions(url: str) -> set[str]:
    """The revisions the database is at (empty: never migrated); raises SchemaNotReady if unreachable."""
    from alembic.runtime.migration import MigrationContext

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    except sa.exc.OperationalError as error:
        reason = " ".join(str(getattr(error, "orig", error)).split()).rstrip(".")
        raise SchemaNotReady(f"Cannot open {_where(url)}: {reason}. Is it running, and is DATABASE_URL right?") from error
    finally:
        engine.dispose()


def require_current_schema(url: str) -> None:
    """Raise SchemaNotReady, with the command to run, unless the database is at the migrations' head."""
    current, heads = current_revisions(url), head_revisions()
    if current == heads:
        return
    if not current:
        raise SchemaNotReady(f"{_where(url, 'The')} has no tables yet: it was never migrated. "
                             f"Run `{UPGRADE}` first (`make run` does it for you).")
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    unknown = set()
    for revision in current:
        try:
            script.get_revision(revision)
        except Exception:  # noqa: BLE001  (alembic raises several kinds for an unknown id)
            unknown.add(revision)
    if unknown:
        raise SchemaNotReady(f"{_where(url, 'The')} is at revision {', '.join(sorted(unknown))}, "
                             "which this code does not know (migrated by a newer version?). Update the code, or "
                             "use a database of this version.")
    raise SchemaNotReady(f"{_where(url, 'The')} is at revision {', '.join(sorted(current))}; "
                         f"this code needs {', '.join(sorted(heads))}. Run `{UPGRADE}` first.")
