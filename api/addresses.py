"""Where the app is reached: the base URL of links in e-mails and feeds, and the origins that may open a chat socket.

Nothing depends on the address the app is served on (DESIGN.md): an explicit PUBLIC_BASE_URL or
CORS_ALLOWED_ORIGINS wins; otherwise links use the request's own address (outside a request: the address
`mentorhub serve` listens on) and a socket must come from the page's own origin.
"""
from __future__ import annotations

import socket
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import current_app, has_app_context, has_request_context, request, url_for

# where `mentorhub serve` listens unless told otherwise (a process that serves nothing falls back to it)
DEFAULT_SERVED_URL = "http://127.0.0.1:5000"
WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


def served_url(host: str, port: int, scheme: str = "http") -> str:
    """The base URL of a server listening on host:port; a wildcard address is named by the machine's host name."""
    if host in WILDCARD_HOSTS:
        host = socket.gethostname() or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


def public_base_url() -> str:
    """The base of absolute links, without a trailing slash: the setting, else the address `mentorhub serve` was
    started on, else the request's own (a server started some other way, e.g. in tests), else the default.

    The served address comes before the request's Host header, so a forged Host cannot put its own site into a
    password-reset mail; production must set PUBLIC_BASE_URL (api/secret_key.py refuses to start without it).
    """
    app = current_app if has_app_context() else None
    settings = app.config["MENTORHUB_SETTINGS"] if app is not None else None
    if settings is not None and settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    if app is not None and app.config.get("SERVED_URL"):
        return app.config["SERVED_URL"].rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return DEFAULT_SERVED_URL


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of an endpoint under public_base_url() (also outside a request, e.g. in a job)."""
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        path = current_app.url_map.bind("localhost").build(endpoint, values)
    return public_base_url() + path


def _origin_key(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an origin or URL, default ports made explicit; None when it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def request_origin(environ: dict) -> str:
    """The origin a WSGI request was made to (after the trusted proxies' X-Forwarded-* were applied)."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    return f"{scheme}://{host}"


def same_origin_rule(settings) -> Callable[[str | None, dict], bool]:
    """python-engineio's `cors_allowed_origins` callable: the socket's Origin must be the request's own origin
    (or that of an explicit PUBLIC_BASE_URL); used when CORS_ALLOWED_ORIGINS is not set."""
    configured = _origin_key(settings.public_base_url) if settings.public_base_url else None

    def allowed(origin: str | None, environ: dict | None = None) -> bool:
        key = _origin_key(origin) if origin else None
        if key is None:
            return False
        if key == configured:
            return True
        return environ is not None and key == _origin_key(request_origin(environ))

    return allowed


def socket_origins(settings) -> list[str] | Callable[[str | None, dict], bool]:
    """What engineio is given: the explicit list of origins when set, else the same-origin rule."""
    return list(settings.cors_allowed_origins) or same_origin_rule(settings)
