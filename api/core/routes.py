"""Landing page, /healthz and the icons browsers ask for at the site's root."""
from __future__ import annotations

import logging

import redis
from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import text

from api.auth.routes import home_for
from api.extensions import db
from api.settings import current_settings

logger = logging.getLogger(__name__)
bp = Blueprint("core", __name__)


@bp.get("/")
def landing():
    """The two choices every visitor meets, learn or teach; someone logged in gets their own start (a learner
    with "Recommended for you")."""
    return render_template("core/landing.html",
                           home_url=home_for(current_user) if current_user.is_authenticated else None)


ICON_MAX_AGE = 7 * 24 * 3600


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on a first visit whatever the page links; pages also link the SVG."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=ICON_MAX_AGE)


@bp.get("/apple-touch-icon.png")
def apple_touch_icon():
    """The home-screen icon iOS and some crawlers ask for at the root."""
    return send_from_directory(current_app.static_folder, "apple-touch-icon.png", mimetype="image/png",
                               max_age=ICON_MAX_AGE)


@bp.get("/healthz")
def healthz():
    """Liveness and the state of each backing service; 503 when the database is down."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # the check reports, it does not fail
        logger.exception("database health check failed")
        checks["database"] = "down"
    settings = current_settings()
    if settings.redis_url:
        checks["redis"] = _redis_state(settings.redis_url)
    else:
        checks["redis"] = "not configured"
    # chat: with its Redis queue down, each worker serves only its own clients
    checks["chat"] = "degraded" if checks["redis"] == "down" else "ok"
    status = "ok" if checks["database"] == "ok" and checks["redis"] != "down" else "degraded"
    code = 503 if checks["database"] != "ok" else 200
    return jsonify(status=status, checks=checks), code


def _redis_state(url: str) -> str:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
        return "ok"
    except redis.RedisError:
        return "down"


@bp.get("/api/v1/csrf-token")
def csrf_token():
    """The CSRF token for this session; API clients send it back in the X-CSRFToken header."""
    return jsonify(csrf_token=generate_csrf())
