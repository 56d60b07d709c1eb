"""Exposure ids are reserved in blocks from the database's events sequence: several server processes
(here: several writers on their own engines and connections) never hand out the same id, and no other
insert can take a reserved one. On SQLite that sequence is the table's AUTOINCREMENT (migration 0012)."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from api.activity import log_event
from api.extensions import db
from api.recommendations import exposures
from api.tables import Event, EventType

pytestmark = pytest.mark.db
UTC = timezone.utc


def _row(n: int) -> dict:
    return exposures.exposure_row(user_id=None, model_version="1", arm=None, occurred_at=datetime.now(UTC),
                                  payload={"n": n})


def test_writers_on_separate_connections_never_share_an_id(app):
    with app.app_context():
        url = db.engine.url
    engines = [sa.create_engine(url) for _ in range(3)]
    writers = [exposures.ExposureWriter(engine, interval=0) for engine in engines]
    handed_out: list[list[int]] = [[] for _ in writers]
    other_ids: list[int] = []

    def serve(i: int) -> None:  # a server process: ids for its responses, rows written in the background
        for n in range(150):  # more than two blocks each
            handed_out[i].append(writers[i].submit(_row(n)))

    def log_other_events() -> None:  # the web tier meanwhile logs events the ordinary way
        with app.app_context():
            for _ in range(40):
                event = log_event(EventType.SEARCH, query="python")
                db.session.commit()
                other_ids.append(event.id)

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(len(writers))]
    threads.append(threading.Thread(target=log_other_events))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        assert writer.flush(timeout=30)
    every = [i for ids in handed_out for i in ids] + other_ids
    assert len(every) == len(set(every)) == 3 * 150 + 40
    with app.app_context():
        stored = set(db.session.scalars(sa.select(Event.id)))
    assert set(every) <= stored and len(stored) == len(every)
    for engine in engines:
        engine.dispose()


def test_an_insert_lands_above_every_reserved_block(app):
    with app.app_context():
        writer = exposures.ExposureWriter(db.engine, interval=0)
        reserved = writer.allocate()  # reserves a whole block
        event = log_event(EventType.SEARCH, query="go")
        db.session.commit()
        assert event.id >= reserved + exposures.SEQUENCE_BLOCK
        assert writer.submit(_row(1)) == reserved + 1  # the block is still this writer's
        assert writer.flush(timeout=10)
        assert db.session.get(Event, reserved + 1).event_type == EventType.EXPOSURE


def test_the_writer_reserves_the_next_block_before_requests_need_it(app):
    with app.app_context():
        writer = exposures.ExposureWriter(db.engine, interval=0)
        for n in range(3 * exposures.SEQUENCE_BLOCK):
            writer.submit(_row(n))
            assert writer.flush(timeout=10)
            # what a request finds: ids in hand (the writer topped them up after writing the last batch)
            assert len(writer._block) >= exposures.SEQUENCE_BLOCK // 2 - 1


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_sqlite_events_sequence_migrates_up_and_down_and_stays_append_only(app):
    with app.app_context():
        db.session.add_all([Event(event_type=EventType.SEARCH, payload={"n": n}) for n in range(3)])
        db.session.commit()
        ids = sorted(db.session.scalars(sa.select(Event.id)))

        def table_sql() -> str:
            return db.session.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'events'")).scalar()

        assert "AUTOINCREMENT" in table_sql()
        downgrade(revision="0011_free_slots")
        assert "AUTOINCREMENT" not in table_sql()
        upgrade()
        assert "AUTOINCREMENT" in table_sql()
        assert sorted(db.session.scalars(sa.select(Event.id))) == ids  # rows kept through both rebuilds
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text("UPDATE events SET arm = 'x'"))
        db.session.rollback()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text("DELETE FROM events"))
        db.session.rollback()


def _worker(url: str, queued: int) -> None:
    """A server worker: queues exposures its writer has not written yet, then stops."""
    engine = sa.create_engine(url)
    writer = exposures.writer_for(engine)
    writer.interval = 60  # after its first batch the writer waits: the rest is still queued at exit
    for n in range(queued):
        writer.submit(_row(n))
    exposures.flush_when_worker_stops()


def test_a_worker_process_writes_its_queue_when_it_stops(app):
    import multiprocessing

    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
    process = multiprocessing.get_context("fork").Process(target=_worker, args=(url, 50))
    process.start()
    process.join(60)
    assert process.exitcode == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)
                                 .where(Event.event_type == EventType.EXPOSURE)) == 50
