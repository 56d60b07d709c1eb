"""Writing a generated world into the app's database: bulk inserts in foreign-key order, one transaction."""
from __future__ import annotations

import sqlalchemy as sa
from tqdm import tqdm

from api.demo.spec import TABLE_ORDER, World
from api.extensions import db
from api.settings import current_settings
from api.tables import User


def world_exists() -> bool:
    """True when the database already has users (inside an app context)."""
    return db.session.execute(sa.select(User.id).limit(1)).first() is not None


def _platform_fee_percent() -> float:
    try:
        return float(current_settings().platform_fee_percent)
    except (RuntimeError, KeyError, AttributeError):
        return 15.0


def _bar(total: int, desc: str, enabled: bool):
    # disable=None: off when not writing to a terminal (no mangled bars in logs and piped output)
    return tqdm(total=total, desc=desc, unit="rows" if desc == "writing" else "visits",
                disable=None if enabled else True, leave=False, mininterval=0.5)


def _write(world: World, *, progress: bool, chunk: int = 5_000) -> None:
    """Bulk-insert every table in foreign-key order, in one transaction."""
    metadata = db.Model.metadata
    total = sum(len(world.rows[name]) for name in TABLE_ORDER)
    bar = _bar(total, "writing", progress)
    try:
        for name in TABLE_ORDER:
            table = metadata.tables[name]
            rows = world.rows[name]
            # keys the table lacks (a column another migration has not added yet) are left out
            extra = sorted(set(rows[0]) - set(table.c.keys())) if rows else []
            for offset in range(0, len(rows), chunk):
                part = rows[offset:offset + chunk]
                if extra:
                    part = [{k: v for k, v in row.items() if k not in extra} for row in part]
                db.session.execute(sa.insert(table), part)
                bar.update(len(part))
        if db.session.get_bind().dialect.name == "postgresql":
            for name in TABLE_ORDER:
                table = metadata.tables[name]
                if "id" in table.c and world.rows[name]:
                    db.session.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        bar.close()
    _write_certificate_documents(world)


def _write_certificate_documents(world: World) -> None:
    """The sample PDF behind every seeded certification's document, under the upload folder."""
    try:
        settings = current_settings()
    except (RuntimeError, KeyError):
        return
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    for upload in world.rows["uploads"]:
        path = settings.upload_dir / upload["stored_name"]
        if not path.exists():
            path.write_bytes(_SAMPLE_PDF)


_SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>"
    b"endobj\n4 0 obj<</Length 62>>stream\nBT /F1 24 Tf 72 760 Td (MentorHub demo certificate) Tj ET\n"
    b"endstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
