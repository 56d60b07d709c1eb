"""Flask configuration for each profile, built from the one settings object."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.settings import Settings


def flask_config(settings: Settings) -> dict[str, Any]:
    """The Flask config dictionary of the settings' profile."""
    production = settings.profile == "production"
    testing = settings.profile == "testing"
    config: dict[str, Any] = {
        "SECRET_KEY": settings.secret_key,
        "TESTING": testing,
        "SQLALCHEMY_DATABASE_URI": settings.sqlalchemy_database_uri,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(settings.sqlalchemy_database_uri),
        "MAX_CONTENT_LENGTH": settings.max_upload_bytes,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": settings.redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "VALIDATION_ERROR_STATUS_CODE": 400,
        "VALIDATION_ERROR_DESCRIPTION": "Invalid input",
        "SYNC_LOCAL_SPEC": False,
        "INFO": {"description": "MentorHub JSON API: mentors, bookings, payments, chat, recommendations."},
        "MENTORHUB_SETTINGS": settings,
    }
    return config


def _engine_options(uri: str) -> dict[str, Any]:
    if uri.startswith("sqlite"):
        # a busy writer makes others wait instead of failing at once
        return {"connect_args": {"timeout": 30}}
    # no pre-ping (it costs a round trip on every request): a connection the server dropped fails one
    # request and SQLAlchemy then invalidates the pool; recycling avoids idle-timeout disconnects.
    return {"pool_pre_ping": False, "pool_recycle": 1800, "pool_size": 10, "max_overflow": 20}
