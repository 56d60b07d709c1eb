"""MentorHub's Flask app: create_app() builds it from the settings.

Nothing is imported at package level, so that `python -m api.server` can let eventlet patch
the standard library before anything else loads.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apiflask import APIFlask

    from api.settings import Settings


def _fix_clock(instant: str) -> None:
    """The CLOCK_NOW setting fixes the product's one clock for the process, unless something (`--now`, a test)
    already fixed it; empty leaves it as it is."""
    from models import clock

    if instant and not clock.is_fixed():
        clock.set_now(instant)


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None) -> APIFlask:
    """Build the app for the settings' profile; `config` overrides Flask config keys (tests)."""
    from apiflask import APIFlask

    from api import errors, headers, input_guard, logs
    from api.settings import get_settings
    from api.config import flask_config
    from api.secret_key import secret_key_for
    from api.extensions import csrf, db, limiter, login_manager, migrate, socketio
    from api.chat.queue import client_manager as chat_client_manager
    from api.addresses import socket_origins

    settings = settings or get_settings()
    _fix_clock(settings.clock_now)
    logs.configure(settings)
    app = APIFlask(
        __name__,
        title="MentorHub API",
        version="1",
        spec_path="/api/openapi.json",
        docs_path="/api/docs",
        json_errors=False,
    )
    app.config.from_mapping(flask_config(settings))
    app.config["SECRET_KEY"] = secret_key_for(settings)  # production: refuses to start with a weak one
    if config:
        app.config.update(config)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    logs.register_request_logging(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    warnings.filterwarnings("ignore", message="\nEventlet is deprecated")  # eventlet is the product owner's choice
    socketio.init_app(
        app,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE", settings.socketio_async_mode),
        message_queue=settings.redis_url or None,
        cors_allowed_origins=socket_origins(settings),  # unset: the same-origin rule (api/addresses.py)
        # always given: otherwise a queue made for an earlier app in this process would be reused
        client_manager=chat_client_manager(settings),
    )
    if settings.forwarded_proxies:  # around the Socket.IO middleware too, so the socket origin check sees the proxy's view
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.forwarded_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    from api import tables  # noqa: F401  (registers every table on the metadata)
    from serving import ab

    ab.use_tables(db.metadata)  # the A/B experiments read and write the app's tables

    input_guard.register(app)
    for blueprint in _feature_blueprints():
        app.register_blueprint(blueprint)
    errors.register(app)
    headers.register(app, production=settings.profile == "production")
    return app


def _feature_blueprints():
    """One blueprint per feature, each defined as `bp` in its subpackage."""
    from api.admin import api_bp as admin_api
    from api.admin import bp as admin
    from api.auth import api_bp as auth_api
    from api.auth import bp as auth
    from api.bookings import bp as bookings
    from api.chat import bp as chat
    from api.core import bp as core
    from api.payments import bp as payments
    from api.profiles import api_bp as profiles_api
    from api.profiles import bp as profiles
    from api.recommendations import api_bp as recommendations_api
    from api.recommendations import bp as recommendations
    from api.reviews import api_bp as reviews_api
    from api.reviews import bp as reviews
    from api.search import api_bp as search_api
    from api.search import bp as search

    return [core, auth, auth_api, profiles, profiles_api, admin, admin_api, bookings, chat,
            search, search_api, reviews, reviews_api, recommendations, recommendations_api, payments]


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent / "migrations"
