"""The recommendation tier: `GET /api/v1/recommendations` (and click tracking) on a slim Flask app.

nginx sends the recommendation endpoint, the busiest request of the product, to its own server processes
(granian with deploy/recommendations.env, entry point `serve`). They run the same blueprint and views as
the full app, composed without what those views never use: no Socket.IO middleware, no CSRF or rate-limit
hooks (the full app has no limit on these routes either), no templates. The logged-in learner is the
same signed session cookie, checked the same way (session version, active account, "strong" session
protection), but read as a `SessionPrincipal` (from the in-memory principal directory on PostgreSQL, else
one query) instead of an ORM user with its roles: the views only need the id, roles, currency and time zone.

The embedded default (`mentorhub serve`, `make run`) serves the same routes from the full app.
"""
from __future__ import annotations

from flask import Flask
from flask_login import LoginManager

from api.settings import Settings

# pages of the web tier that the API links to (click-through), built here but served there
# the web tier's pages that the JSON links to (built here, served there); tests/api/recommendations/test_service.py
# checks each rule against the full app's
WEB_LINKS = {"recommendations.click": "/recommendations/go/<int:exposure_id>/<int:mentor_id>",
             "search.preview_page": "/mentors/<int:mentor_id>/preview"}


def create_service(settings: Settings | None = None) -> Flask:
    """The recommendation tier's WSGI app for these settings (the environment's by default)."""
    from api import errors, logs
    from api.auth.session import load_principal, unauthorized
    from api.config import flask_config
    from api.core.routes import healthz
    from api.extensions import db
    from api.recommendations import api_bp
    from api.settings import get_settings

    settings = settings or get_settings()
    logs.configure(settings)
    app = Flask("api")
    app.config.from_mapping(flask_config(settings), API_ONLY=True)  # JSON errors everywhere: no pages here
    from api.secret_key import secret_key_for

    app.config["SECRET_KEY"] = secret_key_for(settings)  # production: refuses to start with a weak one
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    logs.register_request_logging(app)
    db.init_app(app)
    login = LoginManager(app)
    login.session_protection = "strong"
    login.user_loader(load_principal)
    login.unauthorized_handler(unauthorized)

    from api import tables  # noqa: F401  (registers every table on the metadata)
    from serving import ab

    ab.use_tables(db.metadata)  # the A/B experiments (serving.ab) read and write the app's own tables

    app.register_blueprint(api_bp)
    app.add_url_rule("/healthz", "healthz", healthz)
    for endpoint, rule in WEB_LINKS.items():
        app.add_url_rule(rule, endpoint, build_only=True)
    errors.register(app)
    return app


def serve(warm_up_seconds: float = 60.0) -> Flask:
    """The tier's server entry (granian's factory, called in each worker process): the app, warmed up before
    it takes a request, and writing whatever exposures it still queues when the worker stops."""
    from api.auth.principals import directory_for
    from api.extensions import db
    from api.process import tune_garbage_collector
    from api.recommendations import engine, exposures

    app = create_service()
    with app.app_context():  # loads every account's session facts while the catalogue is built (PostgreSQL)
        directory_for(db.engine)
    engine.warm_up(app, timeout=warm_up_seconds)
    exposures.flush_when_worker_stops()
    tune_garbage_collector()
    return app
