"""Cross-feature hooks: create_app wires them in one place; a booking commit runs each exactly once, and only in
an app that installed them."""
from __future__ import annotations

import ast
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from api import create_app, hooks
from api.activity import log_event
from api.bookings import service
from api.config import flask_config
from api.extensions import db
from api.recommendations import attribution, engine
from api.search import free_slots
from api.tables import Booking, BookingStatus, Event, EventType, MentorFreeSlot, User
from tests.api.search.discovery_helpers import build_world, next_weekday

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
HOOKS = {free_slots.HOOK, attribution.HOOK, engine.CHANGE_HOOK}
LISTENERS = {  # session event -> the hooks' listeners on it
    "before_flush": [attribution._before_flush],
    "after_flush": [free_slots._collect, engine._collect_changed_learners],
    "before_commit": [free_slots._apply],
    "after_commit": [engine._mark_changed_learners],
    "after_transaction_end": [free_slots._forget],
    "after_soft_rollback": [engine._forget_changed_learners],
}


@pytest.fixture
def world(app):
    with app.app_context():
        world = build_world()
        free_slots.build()
        db.session.commit()
        return world


def _slot_start() -> datetime:
    """Ten o'clock UTC on a Monday a few days ahead: a slot Ada (weekdays 9-17 UTC) offers."""
    return datetime.combine(next_weekday(0, "UTC"), time(10), tzinfo=timezone.utc)


class StatementLog:
    """The SQL statements the app's engine runs while it is open (a listener of our own, removed after)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine, self.statements = engine, []

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append(" ".join(statement.split()).lower())

    def __enter__(self) -> StatementLog:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def count(self, start: str) -> int:
        return sum(statement.startswith(start) for statement in self.statements)


def _show(learner_id: int, mentor_id: int) -> int:
    """An exposure that showed the mentor to the learner (as the recommendation tier logs it); its id."""
    exposure = log_event(EventType.EXPOSURE, user_id=learner_id, model_version="v1", arm="control",
                         mentor_ids=[mentor_id])
    db.session.commit()
    return exposure.id


def _free_slot_rows(mentor_id: int, start: datetime) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(MentorFreeSlot).where(
        MentorFreeSlot.mentor_id == mentor_id, MentorFreeSlot.starts_at == free_slots.seconds(start)))


def _calls(node: ast.AST) -> set[str]:
    return {ast.unparse(call.func) for call in ast.walk(node) if isinstance(call, ast.Call)}


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    return next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)


def test_create_app_wires_every_hook_in_one_place():
    tree = ast.parse((ROOT / "api/app.py").read_text())
    wired = {name for name in _calls(_function(tree, "create_app")) if name.endswith("install_hooks")}
    assert wired == {"attribution.install_hooks", "free_slots.install_hooks", "engine.install_hooks"}
    elsewhere = [f"{path.relative_to(ROOT)}: {name}" for path in sorted((ROOT / "api").rglob("*.py"))
                 if path.name != "app.py"
                 for name in _calls(ast.parse(path.read_text())) if name.endswith("install_hooks")]
    assert not elsewhere, elsewhere  # no module installs a hook behind create_app's back


def test_a_second_app_registers_no_listener_twice(app, settings):
    second = create_app(settings=settings)
    assert hooks.installed(app) == hooks.installed(second) == HOOKS
    with second.app_context():
        session = db.session()
        for event, listeners in LISTENERS.items():
            registered = list(getattr(session.dispatch, event))
            for listener in listeners:
                assert registered.count(listener) == 1, (event, listener.__name__)
        db.session.remove()
        db.engine.dispose()


def test_a_booking_commit_runs_each_hook_once(app, settings, world):
    create_app(settings=settings)  # tests build many apps in one process: none adds a second run
    start = _slot_start()
    with app.app_context():
        exposure_id = _show(world.learner, world.ada)
        assert _free_slot_rows(world.ada, start) == 1
        learner = db.session.get(User, world.learner)
        before = engine._changed_learners.get(world.learner, 0.0)
        with StatementLog(db.engine) as log:
            booking = service.request_booking(learner, world.ada, start)
            db.session.commit()
        assert log.count("delete from mentor_free_slots") == 1  # the free-slot rewrite, once
        assert log.count("select anon_1.id, anon_1.event_type") == 1  # attribution's one look-up, once
        request = db.session.scalars(sa.select(Event).where(Event.event_type == EventType.BOOKING_REQUEST,
                                                            Event.booking_id == booking.id)).one()
        assert request.exposure_id == exposure_id and request.arm == "control"
        assert _free_slot_rows(world.ada, start) == 0  # the booked slot left the index in the same commit
        assert engine._changed_learners[world.learner] > before  # the serving caches know the learner changed


def test_an_app_built_without_the_hooks_runs_none(app, settings, world):
    start = _slot_start()
    with app.app_context():
        exposure_id = _show(world.learner, world.ada)
    bare = Flask("bare")  # the same database and session, but not built by create_app
    bare.config.from_mapping(flask_config(settings))
    db.init_app(bare)
    assert hooks.installed(bare) == frozenset()
    before = engine._changed_learners.get(world.learner, 0.0)
    with bare.app_context():
        with StatementLog(db.engine) as log:
            booking = Booking(learner_id=world.learner, mentor_id=world.ada, starts_at=start,
                              ends_at=start + timedelta(hours=1), status=BookingStatus.REQUESTED, price_minor=5000,
                              currency="USD")
            db.session.add(booking)
            db.session.flush()
            request = log_event(EventType.BOOKING_REQUEST, user_id=world.learner, mentor_id=world.ada,
                                booking_id=booking.id)
            db.session.commit()
        assert log.count("delete from mentor_free_slots") == 0
        assert request.exposure_id is None and exposure_id
        assert _free_slot_rows(world.ada, start) == 1  # not rewritten: that app has no free-slot hook
        db.session.remove()
        db.engine.dispose()
    assert engine._changed_learners.get(world.learner, 0.0) == before
