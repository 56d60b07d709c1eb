"""The denormalised ranking columns (migration 0009_search_perf) stay current on every write, on both databases."""
import importlib.util
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from api.bookings import service as bookings
from api.extensions import db
from api.reviews import service as reviews
from api.search import ranking_columns
from api.search.currency import factor
from api.tables import BookingStatus, MentorProfile, User, utcnow
from tests.api.search.discovery_helpers import build_world, completed_booking

pytestmark = pytest.mark.db


def _migration():
    path = Path(__file__).resolve().parents[3] / "api" / "migrations" / "versions" / "0009_search_perf.py"
    spec = importlib.util.spec_from_file_location("migration_0009_search_perf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _columns(mentor_id: int) -> tuple[float, float, int]:
    db.session.expire_all()
    profile = db.session.get(MentorProfile, mentor_id)
    return profile.bayes_score, profile.price_usd_minor, profile.completed_90d


def _expected_bayes(mentor_id: int) -> float:
    mean, weight = ranking_columns.stored_params()["prior_mean"], ranking_columns.stored_params()["prior_weight"]
    profile = db.session.get(MentorProfile, mentor_id)
    return (weight * mean + profile.rating_sum) / (weight + profile.rating_count)


def test_a_new_review_changes_bayes_score(app, client):
    with app.app_context():
        world = build_world()
        ranking_columns.refresh(force=True)
        before, _price, _count = _columns(world.dan)
        done = completed_booking(world.dan, world.learner, utcnow() - timedelta(days=1))
        db.session.commit()
        reviews.create_review(done.id, db.session.get(User, world.learner), 1, "Not for me.")
        after, _price, _count = _columns(world.dan)
        assert after < before
        assert after == pytest.approx(_expected_bayes(world.dan))
    # the search orders by and shows the stored value (reconciled with the platform's new mean rating)
    body = client.get("/api/v1/mentors?sort=rating&per_page=50").get_json()
    shown = {m["id"]: m["rating"]["score"] for m in body["mentors"]}
    with app.app_context():
        assert shown[world.dan] == pytest.approx(_columns(world.dan)[0], abs=1e-4)
        assert _columns(world.dan)[0] == pytest.approx(_expected_bayes(world.dan))
    scores = [m["rating"]["score"] for m in body["mentors"]]
    assert scores == sorted(scores, reverse=True)


def test_a_completed_booking_changes_completed_90d(app, client):
    with app.app_context():
        world = build_world()
        assert _columns(world.carla)[2] == 3 and _columns(world.ada)[2] == 1 and _columns(world.ben)[2] == 0
        now = utcnow()
        accepted = completed_booking(world.ben, world.learner, now - timedelta(hours=2), status=BookingStatus.ACCEPTED)
        db.session.commit()
        assert _columns(world.ben)[2] == 0  # accepted sessions do not count
        bookings.complete(accepted.id, None, now + timedelta(days=2))
        assert _columns(world.ben)[2] == 1
        old = completed_booking(world.ben, world.learner, now - timedelta(days=200))
        db.session.commit()
        assert _columns(world.ben)[2] == 1  # outside the window
        db.session.execute(sa.text("UPDATE bookings SET status = 'no_show' WHERE id = :id"), {"id": accepted.id})
        db.session.commit()
        assert _columns(world.ben)[2] == 0
        assert old.id
    assert [m["id"] for m in client.get("/api/v1/mentors?sort=popularity").get_json()["mentors"]][:2] == \
        [world.carla, world.ada]


def test_the_refresh_drops_sessions_that_left_the_popularity_window(app):
    with app.app_context():
        world = build_world()
        assert _columns(world.carla)[2] == 3  # ended 3, 10 and 20 days ago
        done = ranking_columns.refresh(now=utcnow() + timedelta(days=82), force=True)
        assert done["window"] >= 1
        assert _columns(world.carla)[2] == 1 and _columns(world.ada)[2] == 1  # at +82 days only the 3-days-old (85) and 5-days-old (87) remain


def test_price_changes_update_price_usd_minor(app, client):
    with app.app_context():
        world = build_world()
        assert _columns(world.ben)[1] == pytest.approx(3000 * factor("EUR", "USD"))
        profile = db.session.get(MentorProfile, world.ben)
        profile.price_minor = 9900
        db.session.commit()
        assert _columns(world.ben)[1] == pytest.approx(9900 * factor("EUR", "USD"))
        profile = db.session.get(MentorProfile, world.ben)
        profile.currency = "GBP"
        db.session.commit()
        assert _columns(world.ben)[1] == pytest.approx(9900 * factor("GBP", "USD"))
    assert [m["id"] for m in client.get("/api/v1/mentors?sort=price_high").get_json()["mentors"]][0] == world.ben


def test_a_changed_prior_mean_is_reconciled(app, client):
    with app.app_context():
        world = build_world()
        ranking_columns.refresh()
        db.session.execute(sa.update(MentorProfile).where(MentorProfile.user_id == world.carla)
                           .values(rating_count=MentorProfile.rating_count + 500,
                                   rating_sum=MentorProfile.rating_sum + 500))
        db.session.commit()
        assert ranking_columns.refresh()["prior"]
        for mentor_id in (world.ada, world.ben, world.carla, world.dan):
            assert _columns(mentor_id)[0] == pytest.approx(_expected_bayes(mentor_id))


def test_upgrade_backfills_the_ranking_columns(app):
    with app.app_context():
        world = build_world()
        db.session.remove()  # no open transaction may hold a lock the migration needs
        downgrade(revision=_migration().down_revision)
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("mentor_profiles")}
        assert not {"bayes_score", "price_usd_minor", "completed_90d"} & columns
        upgrade()
        db.session.remove()
        assert _columns(world.carla)[2] == 3
        assert _columns(world.ben)[1] == pytest.approx(3000 * factor("EUR", "USD"))
        assert _columns(world.ada)[0] == pytest.approx(_expected_bayes(world.ada))
        # the triggers are back too
        completed_booking(world.ben, world.learner, utcnow() - timedelta(days=1))
        db.session.commit()
        assert _columns(world.ben)[2] == 1
