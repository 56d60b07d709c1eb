"""Every model setting an admin changes in the admin panel changes what is served (DESIGN.md: "A setting that an
admin can change is read somewhere and has a test that shows its effect").

Each test signs an admin in with password and two-factor code, saves the setting through the panel's form
(/admin/models/settings/<key>, as the page posts it) and asks the served recommendations again.
"""
from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from api.extensions import db
from api.tables import Booking, BookingStatus, User
from tests.api.admin.admin_helpers import admin_api_client, form_token
from tests.api.search.discovery_helpers import build_world, completed_booking
from tests.conftest import WORLD_NOW


@pytest.fixture
def world(app, fixed_clock):
    """The small hand-built world at the test clock's "now" (a Monday): ada (python, 50 USD, 4.8★, free weekdays
    09-17 UTC), ben (python, 30 EUR, 5★ once, free Saturdays), carla (spanish, 40 GBP, 4.0★, free weekday evenings
    in Madrid), dan (design, 90 USD, not rated, never free); leo booked ada, ben and carla."""
    with app.app_context():
        world = build_world(WORLD_NOW)
        for booking in db.session.scalars(sa.select(Booking)):  # requested two weeks before each session
            booking.created_at = booking.starts_at - timedelta(days=14)
        db.session.commit()
        return world


@pytest.fixture
def admin(app, make_user):
    return admin_api_client(app, make_user("root@example.com", roles=("admin",), full_name="Ada Admin"))


@pytest.fixture
def fresh(make_user, world):
    """A learner with no bookings: every approved mentor is a candidate."""
    return make_user("fresh@example.com", roles=("learner",)).id


def save_in_panel(admin, key: str, **values) -> None:
    """Change some fields of a setting with the admin panel's form (the other fields keep their values)."""
    page = admin.get("/admin/models")
    assert page.status_code == 200
    current = admin.get("/api/v1/admin/model-settings").get_json()["settings"][key]
    form = {"csrf_token": form_token(page.get_data(as_text=True))}
    for name, value in {**current, **values}.items():
        if value is True:
            form[name] = "on"
        elif value is not False:
            form[name] = str(value)
    response = admin.client.post(f"/admin/models/settings/{key}", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def _ids(client, k: int = 10) -> list[int]:
    response = client.get(f"/api/v1/recommendations?k={k}")
    assert response.status_code == 200, response.get_json()
    return [r["id"] for r in response.get_json()["recommendations"]]


@pytest.fixture
def learner_client(app, login, client):
    """`client` logged in as the given learner: learner_client(id) -> client."""
    def log_in(learner_id: int):
        with app.app_context():
            user = db.session.get(User, learner_id)
            db.session.expunge(user)
        login(user)
        return client
    return log_in


# ---------------------------------------------------------------- candidate rules


def test_booked_mentors_are_left_out_by_default_and_the_rule_brings_them_back(app, admin, world, learner_client):
    leo = learner_client(world.learner)
    assert _ids(leo) == [world.dan]  # ada, ben and carla are booked: never "recommended" again
    save_in_panel(admin, "ranking.candidate_rules", exclude_booked_by_learner=False)
    assert set(_ids(leo)) == {world.ada, world.ben, world.carla, world.dan}


def test_min_rating_leaves_out_mentors_rated_below_it(app, admin, world, fresh, learner_client):
    client = learner_client(fresh)
    assert set(_ids(client)) == {world.ada, world.ben, world.carla, world.dan}
    save_in_panel(admin, "ranking.candidate_rules", min_rating=4.5)
    assert set(_ids(client)) == {world.ada, world.ben, world.dan}  # carla's 4.0 is below; dan is not rated yet


def test_max_price_leaves_out_mentors_above_it_in_us_cents(app, admin, world, fresh, learner_client):
    client = learner_client(fresh)
    assert world.dan in _ids(client)
    save_in_panel(admin, "ranking.candidate_rules", max_price_minor=6000)
    assert set(_ids(client)) == {world.ada, world.ben, world.carla}  # dan's 90 USD is above 60 USD
    save_in_panel(admin, "ranking.candidate_rules", max_price_minor=5000)
    assert world.ada in _ids(client) and world.carla not in _ids(client)  # 50 USD stays; 40 GBP is above


def test_require_availability_keeps_only_mentors_free_within_the_days(app, admin, world, fresh, learner_client):
    client = learner_client(fresh)
    assert len(_ids(client)) == 4
    save_in_panel(admin, "ranking.candidate_rules", require_availability_days=1)  # Monday and Tuesday
    assert set(_ids(client)) == {world.ada, world.carla}  # ben is free on Saturdays only, dan never
    save_in_panel(admin, "ranking.candidate_rules", require_availability_days=6)  # to Sunday
    assert set(_ids(client)) == {world.ada, world.ben, world.carla}


def _request(mentor_id: int, learner_id: int, made_days_ago: float, status: BookingStatus) -> None:
    made = WORLD_NOW - timedelta(days=made_days_ago)
    booking = completed_booking(mentor_id, learner_id, made + timedelta(days=1, hours=1), status=status)
    booking.created_at = made
    db.session.commit()


def test_quiet_mentors_are_hidden_after_the_days_set(app, admin, world, fresh, make_user, learner_client):
    other = make_user("other@example.com", roles=("learner",)).id
    with app.app_context():
        _request(world.ada, other, 10, BookingStatus.EXPIRED)  # ada left a request unanswered 10 days ago
        _request(world.dan, other, 20, BookingStatus.EXPIRED)  # dan too, 20 days ago, but answered a later one
        _request(world.dan, fresh, 15, BookingStatus.REJECTED)
    client = learner_client(fresh)
    assert world.ada in _ids(client)  # the rule is off until an admin sets it
    save_in_panel(admin, "ranking.candidate_rules", quiet_after_days=7)
    assert set(_ids(client)) == {world.ben, world.carla, world.dan}  # dan answered a request made after his
    save_in_panel(admin, "ranking.candidate_rules", quiet_after_days=14)
    assert world.ada in _ids(client)  # 10 days of silence is not 14


# ---------------------------------------------------------------- re-ranking weights


def test_reranking_weights_reorder_the_list(app, admin, world, fresh, learner_client):
    client = learner_client(fresh)
    save_in_panel(admin, "rerank_weights", model=0.0, availability=0.0, interest=0.0, diversity=0.0, new_mentor=0.0,
                  popularity=5.0)
    assert _ids(client)[0] == world.carla  # the most sessions lately
    save_in_panel(admin, "rerank_weights", popularity=0.0, new_mentor=5.0)
    assert _ids(client)[-1] == world.carla  # the only one who is not new


# ---------------------------------------------------------------- hybrid blend


class _Scores:
    """A fitted recommender stand-in: fixed scores of every mentor for every learner."""

    def __init__(self, scores: dict[int, float], learners):
        self.item_ids_ = np.asarray(sorted(scores), dtype=np.int64)
        self._row = np.asarray([scores[m] for m in sorted(scores)], dtype=float)
        self.user_index_ = {int(u): i for i, u in enumerate(learners)}

    def score_batch(self, users):
        return np.tile(self._row, (len(users), 1))


def test_hybrid_blend_weighs_the_families(app, admin, world, fresh, learner_client):
    from api.recommendations import engine
    from serving.registry import LoadedModel

    order = [world.ada, world.dan, world.carla, world.ben]  # what the collaborative model ranks first
    collaborative = LoadedModel("7", "ease", _Scores({m: 4.0 - i for i, m in enumerate(order)}, [fresh]), "d1")
    content = LoadedModel("8", "content-tfidf", _Scores({m: float(i) for i, m in enumerate(order)}, [fresh]), "d1")
    with app.app_context():
        registry = engine.state(app).registry
        registry._models, registry._aliases, registry._content = {"7": collaborative}, {"champion": "7"}, content
        registry._companions = {"collaborative": collaborative, "content": content}
        registry.poll_seconds, registry._last_poll = 1e9, time.monotonic()  # no MLflow here: what is set stays
        registry._polled_once.set()
    client = learner_client(fresh)
    save_in_panel(admin, "ranking.hybrid_blend", content=0.0, collaborative=1.0, neural=0.0)
    assert _ids(client)[0] == world.ada
    save_in_panel(admin, "ranking.hybrid_blend", content=1.0, collaborative=0.0, neural=0.0)
    assert _ids(client)[0] == world.ben  # the content model's favourite
    save_in_panel(admin, "ranking.hybrid_blend", content=0.2, collaborative=0.8, neural=0.0)
    assert _ids(client)[0] == world.ada


# ---------------------------------------------------------------- retraining schedule


def _deployment_built(app, monkeypatch) -> object:
    """Run `mentorhub pipeline serve` (its pipeline group, with the app's settings) and return the deployment it
    would serve (prefect.serve is replaced: no server needed)."""
    import os

    import prefect

    from pipelines.cli import pipeline
    from pipelines.common import prefect_environment

    settings = app.config["MENTORHUB_SETTINGS"]
    for key in prefect_environment(settings.var_dir, "http://127.0.0.1:9/api"):  # restored after the test
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
    served_deployments = []
    monkeypatch.setattr(prefect, "serve", lambda *deployments, **kw: served_deployments.extend(deployments))
    obj = {"database_url": settings.sqlalchemy_database_uri, "var_dir": str(settings.var_dir),
           "mlflow_uri": settings.mlflow_uri, "online_store": "sqlite", "redis_url": "",
           "prefect_api_url": "http://127.0.0.1:9/api"}
    pipeline.main(args=["serve"], prog_name="mentorhub pipeline", standalone_mode=False, obj=obj)
    assert len(served_deployments) == 1
    return served_deployments[0]


@pytest.mark.slow
def test_retraining_deployment_follows_the_schedule_set_in_the_panel(app, admin, monkeypatch):
    save_in_panel(admin, "pipeline.retrain_schedule", cron="30 1 * * 2")
    deployment = _deployment_built(app, monkeypatch)
    assert [s.schedule.cron for s in deployment.schedules] == ["30 1 * * 2"]
    save_in_panel(admin, "pipeline.retrain_schedule", enabled=False)
    assert _deployment_built(app, monkeypatch).schedules == []  # on demand only
