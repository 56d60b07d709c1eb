"""Fixtures shared by the browser journeys."""
from __future__ import annotations

import pytest


@pytest.fixture
def topics(app):
    """The catalogue of topics (seeded data, like a fresh install's)."""
    from api.extensions import db
    from api.tables import Topic

    with app.app_context():
        db.session.add_all([Topic(slug="python", name="Python", category="programming"),
                            Topic(slug="statistics", name="Statistics", category="data"),
                            Topic(slug="spanish", name="Spanish", category="languages")])
        db.session.commit()
