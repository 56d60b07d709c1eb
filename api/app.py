"""The app factory: `create_app()` builds MentorHub's Flask app from the settings (`from api import create_app`)."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from flask import Blueprint
from flask_login import LoginManager
from werkzeug.middleware.proxy_fix import ProxyFix

from models import clock
from api import errors, headers, input_guard, logs, tables  # noqa: F401  (tables: registers every table)
from api.addresses import socket_origins
from api.admin import api_bp as admin_api
from api.admin import bp as admin
from api.auth import api_bp as auth_api
from api.auth import bp as auth
from api.auth.session import unauthorized
from api.bookings import api_bp as bookings_api
from api.bookings import bp as bookings
from api.chat import api_bp as chat_api
from api.chat import bp as chat
from api.chat.queue import client_manager as chat_client_manager
from api.config import flask_config
from api.core import bp as core
from api.core.routes import healthz
from api.extensions import csrf, db, limiter, login_manager, migrate, socketio
from api.payments import api_bp as payments_api
from api.payments import bp as payments
from api.profiles import api_bp as profiles_api
from api.profiles import bp as profiles
from api.recommendations import api_bp as recommendations_api
from api.recommendations import attribution, engine
from api.recommendations import bp as recommendations
from api.recommendations.api import WEB_LINKS
from api.recommendations.principal import load_principal
from api.reviews import api_bp as reviews_api
from api.reviews import bp as reviews
from api.search import api_bp as search_api
from api.search import bp as search
from api.search import free_slots
from api.secret_key import secret_key_for
from api.settings import Settings, get_settings
from serving import ab

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FEATURE_BLUEPRINTS: tuple[Blueprint, ...] = (  # one blueprint (and one JSON blueprint) per feature
    core, auth, auth_api, profiles, profiles_api, admin, admin_api, bookings, bookings_api, chat, chat_api, search,
    search_api, reviews, reviews_api, recommendations, recommendations_api, payments, payments_api)


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None, tier: str = "web") -> APIFlask:
    """Build the app for the settings' profile; `config` overrides Flask config keys (tests).

    `tier="recommendations"` builds the recommendation tier's lean app (`api.recommendation_server`): the same
    settings, secret key, session cookie, logging and database, serving only the recommendation JSON views and
    `/healthz`; no Socket.IO, CSRF, rate limits, pages or hooks (JSON errors everywhere), and the signed-in user is
    a `SessionPrincipal` (`api.recommendations.principal`)."""
    settings = settings or get_settings()
    _fix_clock(settings.clock_now)
    logs.configure(settings)
    app = APIFlask(
        "api",  # the package: templates and static files under api/
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
    ab.use_tables(db.metadata)  # the A/B experiments (serving.ab) read and write the app's own tables
    if tier == "recommendations":
        return _recommendation_tier(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
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
    # around the Socket.IO middleware too, so the socket origin check sees the proxy's view
    if settings.forwarded_proxies:
        hops = settings.forwarded_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    input_guard.register(app)
    for blueprint in FEATURE_BLUEPRINTS:
        app.register_blueprint(blueprint)
    # What one feature does inside another's transaction (api/hooks.py), all wired here. On a commit that
    # creates or changes a booking (and on the other writes each names) the app's session runs, in this order:
    # - before the flush: a new booking-request event is attributed to the recommendation exposure it follows;
    # - after the flush: search notes the mentors whose free slots moved, the serving caches the learners changed;
    # - before the commit: search rewrites those mentors' rows of the free-slot index, in the same transaction;
    # - after the commit: the serving caches mark those learners stale.
    # (Payments' refunds run inside booking transitions: `api.bookings.policy.on_transition`.)
    attribution.install_hooks(app)
    free_slots.install_hooks(app)
    engine.install_hooks(app)
    errors.register(app)
    headers.register(app, production=settings.profile == "production")
    return app


def _recommendation_tier(app: APIFlask) -> APIFlask:
    """The rest of `create_app(tier="recommendations")`: its own log-in manager, its views, the web tier's pages
    that its JSON links to (built, not served)."""
    app.config["API_ONLY"] = True
    login = LoginManager(app)
    login.session_protection = "strong"
    login.user_loader(load_principal)
    login.unauthorized_handler(unauthorized)
    app.register_blueprint(recommendations_api)
    app.add_url_rule("/healthz", "healthz", healthz)
    for endpoint, rule in WEB_LINKS.items():
        app.add_url_rule(rule, endpoint, build_only=True)
    errors.register(app)
    return app


def _fix_clock(instant: str) -> None:
    """The CLOCK_NOW setting fixes the product's one clock for the process, unless something (`--now`, a test)
    already fixed it; empty leaves it as it is."""
    if instant and not clock.is_fixed():
        clock.set_now(instant)
