"""A/B experiments written through serving.ab keep their timestamps in the ORM's format, on both databases.

Feast's SQLite online store, once imported (every pipeline run imports it), replaces the sqlite3 driver's
datetime adapter with one that writes Unix epoch integers; any timestamp the driver adapts itself then
no longer compares with the rest of its column. The pipeline and the app share one process in tests and
in `mentorhub` commands, so the A/B tables must hand the driver text they formatted themselves.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa


@pytest.mark.db
def test_experiment_times_survive_feasts_sqlite_adapter(app, make_user):
    import feast.infra.online_stores.sqlite  # noqa: F401 - registers its sqlite3 adapters process-wide

    from api.admin import experiments
    from api.extensions import db
    from api.tables import AbExperiment, Event, EventType, ModelSetting
    from serving import ab

    learner = make_user("lea@example.com")
    root = make_user("root@example.com", roles=("admin",))
    with app.app_context():
        before = datetime.now(timezone.utc)
        experiment_id = ab.create_experiment(db.session, "stored-times", [
            {"name": "control", "model_alias": "champion", "traffic_share": 0.5},
            {"name": "treatment", "model_alias": "challenger", "traffic_share": 0.5}], start=True)
        ab.set_promotion_rule(db.session, {"min_exposures": 100})
        db.session.commit()
        label = f"{experiment_id}/control"
        db.session.add_all([
            Event(event_type=EventType.EXPOSURE, user_id=learner.id, arm=label,
                  occurred_at=before - timedelta(hours=1)),  # before the start: not the experiment's
            Event(event_type=EventType.EXPOSURE, user_id=learner.id, arm=label,
                  occurred_at=before + timedelta(minutes=1))])
        db.session.commit()
        db.session.expunge_all()

        stored = db.session.get(AbExperiment, experiment_id)  # the ORM reads what Core wrote
        assert before <= stored.started_at <= datetime.now(timezone.utc)
        assert stored.created_at <= stored.started_at and stored.ended_at is None
        assert ab.get_experiment(db.session, experiment_id)["started_at"] == stored.started_at
        assert db.session.get(ModelSetting, ab.RULE_KEY).updated_at >= before
        if db.engine.dialect.name == "sqlite":
            kinds = db.session.execute(sa.text(
                "SELECT typeof(started_at), typeof(created_at) FROM ab_experiments WHERE id = :id"),
                {"id": experiment_id}).one()
            assert tuple(kinds) == ("text", "text")

        exposures = {o.arm.name: o.exposures for o in ab.arm_outcomes(db.session, experiment_id)}
        assert exposures == {"control": 1, "treatment": 0}

        # the admin's split change, which loads the experiment through the ORM
        arms = {arm.name: arm.id for arm in stored.arms}
        after = experiments.set_split(experiment_id, {arms["control"]: 70, arms["treatment"]: 30}, admin_id=root.id)
        assert after == {"control": 0.7, "treatment": 0.3}
