"""The recommendation tier's slim app (api.recommendation_server): the same views and answers as the full
app, the same session checks with the user read as a `SessionPrincipal`, on both databases."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from api import create_app
from api.extensions import db
from api.recommendations.api import WEB_LINKS
from api.recommendations.caches import directory_for
from api.tables import User
from tests.conftest import eventually
from tests.api.search.discovery_helpers import build_world

pytestmark = pytest.mark.db
USER_AGENT = "test-browser/1.0"


@pytest.fixture
def world(app):
    with app.app_context():
        return build_world()


@pytest.fixture
def service(settings, app):
    service = create_app(settings=settings, tier="recommendations")
    yield service
    from api.recommendations import caches, exposures

    with service.app_context():
        exposures.flush_engine(db.engine)
        caches.close_directory(db.engine)
        db.session.remove()
        db.engine.dispose()


def _client(flask_app, user_id: int, version: int = 1, user_agent: str = USER_AGENT):
    """A client whose session cookie names this user, as a log-in through the web tier would set it."""
    from flask_login.utils import _create_identifier

    client = flask_app.test_client()
    client.environ_base.update(REMOTE_ADDR="127.0.0.1", HTTP_USER_AGENT=user_agent)
    with flask_app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": user_agent}):
        identifier = _create_identifier()
    with client.session_transaction() as session:
        session.update({"_user_id": f"{user_id}:{version}", "_fresh": True, "_id": identifier})
    return client


def test_the_tier_answers_like_the_full_app(app, service, world):
    ours = _client(service, world.learner).get("/api/v1/recommendations?k=3")  # (python: all booked by them)
    full = _client(app, world.learner).get("/api/v1/recommendations?k=3")
    assert ours.status_code == full.status_code == 200
    assert ours.mimetype == "application/json"
    body, reference = ours.get_json(), full.get_json()
    assert set(body) == set(reference)
    assert [r["id"] for r in body["recommendations"]] == [r["id"] for r in reference["recommendations"]]
    assert [r["reason"] for r in body["recommendations"]] == [r["reason"] for r in reference["recommendations"]]
    first = body["recommendations"][0]
    # the click-through is the web tier's page (built here, served there)
    assert first["click_url"] == f"/recommendations/go/{body['exposure_id']}/{first['id']}"
    assert body["exposure_id"] != reference["exposure_id"]  # each response logged its own exposure


def test_the_tier_checks_the_session_like_the_full_app(app, service, world):
    assert service.test_client().get("/api/v1/recommendations").status_code == 401
    assert _client(service, world.ada).get("/api/v1/recommendations").status_code == 403  # a mentor
    assert _client(service, world.learner, version=2).get("/api/v1/recommendations").status_code == 401  # stale
    assert _client(service, 999_999).get("/api/v1/recommendations").status_code == 401  # no such user
    stolen = _client(service, world.learner)
    stolen.environ_base["HTTP_USER_AGENT"] = "another-browser/2.0"  # "strong" session protection
    assert stolen.get("/api/v1/recommendations").status_code == 401
    refused = _client(service, world.learner).get("/api/v1/recommendations?k=abc")
    assert refused.status_code == 400 and refused.get_json()["error"]["fields"] == {"k": "must be a whole number"}

    with service.app_context():  # on PostgreSQL the tier reads sessions from its principal directory
        directory = directory_for(db.engine)
        if directory is not None:
            eventually(lambda: directory.ready)
    with app.app_context():  # logging out everywhere bumps the session version; deactivation ends access
        db.session.execute(sa.update(User).where(User.id == world.learner).values(session_version=2))
        db.session.commit()
    # (the directory hears of a change when it commits: within milliseconds)
    eventually(lambda: _client(service, world.learner, version=1).get("/api/v1/recommendations").status_code == 401)
    assert _client(service, world.learner, version=2).get("/api/v1/recommendations").status_code == 200
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == world.learner).values(is_active_account=False))
        db.session.commit()
    eventually(lambda: _client(service, world.learner, version=2).get("/api/v1/recommendations").status_code == 401)


def test_the_tier_records_clicks_and_reports_health(service, world):
    client = _client(service, world.learner)
    body = client.get("/api/v1/recommendations?k=2").get_json()
    click = client.post("/api/v1/recommendations/clicks",
                        json={"exposure_id": body["exposure_id"], "mentor_id": body["recommendations"][0]["id"]})
    assert click.status_code == 201
    assert service.test_client().get("/healthz").get_json()["checks"]["database"] == "ok"
    assert service.test_client().get("/recommendations").status_code == 404  # pages stay on the web tier


def test_the_principal_query_survives_a_dropped_connection(service, world):
    """Where the tier queries the principal (SQLite; PostgreSQL while its directory cannot answer), it does so on
    its own connection per thread; a connection the database dropped (a restart, a killed backend) is replaced
    by the next query, which answers as usual."""
    from api.recommendations.principal import reader as session_reader

    with service.app_context():
        reader = session_reader(db.engine)
        expected = reader.rows(world.learner)
        connection = reader.local.connection
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": connection.get_backend_pid()})
        else:
            connection.close()
        assert reader.rows(world.learner) == expected != []
        assert reader.local.connection is not connection


def test_the_tier_links_book_again_like_the_full_app(app, service, world):
    """A learner who rated a past mentor well gets the "Book again" row from the tier too, linked to the web
    tier's profile page (the tier builds that link without serving it)."""
    from api.tables import Booking, Review

    with app.app_context():
        booking = db.session.scalars(sa.select(Booking).where(Booking.learner_id == world.learner,
                                                              Booking.mentor_id == world.ada)).first()
        db.session.add(Review(booking_id=booking.id, learner_id=world.learner, mentor_id=world.ada, rating=5))
        db.session.commit()
    ours = _client(service, world.learner).get("/api/v1/recommendations?k=3")
    full = _client(app, world.learner).get("/api/v1/recommendations?k=3")
    assert ours.status_code == full.status_code == 200, ours.get_data(as_text=True)
    assert ours.get_json()["book_again"] == full.get_json()["book_again"]
    assert [b["url"] for b in ours.get_json()["book_again"]] == [f"/mentors/{world.ada}/preview"]
    for endpoint, rule in WEB_LINKS.items():  # the same address as the page it stands for
        assert rule in {r.rule for r in app.url_map.iter_rules(endpoint)}, endpoint
