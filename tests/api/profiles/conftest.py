import pytest

from tests.api.auth.conftest import api, settings  # noqa: F401 - the same cheap-argon2 settings and JSON client


@pytest.fixture
def topics(app):
    """Three topics; returns their ids."""
    from api.extensions import db
    from api.tables import Topic

    with app.app_context():
        rows = [Topic(slug="python", name="Python", category="programming"),
                Topic(slug="statistics", name="Statistics", category="data"),
                Topic(slug="guitar", name="Guitar", category="music")]
        db.session.add_all(rows)
        db.session.commit()
        return [t.id for t in rows]


@pytest.fixture
def mentor_payload(topics):
    return {
        "headline": "Senior Python engineer, 10 years in fintech", "bio": "I help people ship.",
        "topic_ids": topics[:2], "price_minor": 4550, "currency": "EUR", "session_minutes": 60,
        "years_experience": 10, "past_roles": ["Lead engineer at Acme"], "timezone": "Europe/Berlin",
        "availability": [{"weekday": 0, "start": "09:00", "end": "12:00"},
                         {"weekday": 2, "start": "14:00", "end": "18:00"}],
        "video_url": "https://video.example/intro",
    }
