"""The app factory, health check, error responses and start-up cost."""
import json
import subprocess
import sys

import pytest

from api.settings import Settings


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"]["database"] == "ok"
    assert response.json["status"] == "ok"


def test_healthz_reports_redis_down_as_degraded(tmp_path, sqlite_template):
    import shutil

    from api import create_app
    from tests.conftest import make_settings

    shutil.copy(sqlite_template, tmp_path / "mentorhub.db")
    app = create_app(settings=make_settings(tmp_path, redis_url="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"]["redis"] == "down"
    assert response.json["status"] == "degraded"


def test_landing_offers_learn_and_teach(client):
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Learn" in page and "Teach" in page
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["status"] == 404


def test_unknown_page_is_html_404(client):
    response = client.get("/nothing-here", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.content_type


def test_unexpected_error_is_500_without_stack_trace(app):
    @app.get("/api/v1/explode")
    def explode():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/api/v1/explode")
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_validation_error_names_the_field(app):
    from apiflask import Schema
    from apiflask.fields import Email, Integer
    from apiflask.validators import Range

    class Payload(Schema):
        email = Email(required=True)
        count = Integer(validate=Range(min=1))

    @app.post("/api/v1/echo")
    @app.input(Payload)
    def echo(json_data):
        return json_data

    client = app.test_client()
    token = client.get("/api/v1/csrf-token").json["csrf_token"]
    response = client.post("/api/v1/echo", json={"email": "not-an-email", "count": 0}, headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert set(response.json["error"]["fields"]) == {"email", "count"}
    assert "email" in response.json["error"]["message"]


def test_openapi_spec_is_served(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json["info"]["title"] == "MentorHub API"


def test_settings_profiles_and_database_url():
    production = Settings(_env_file=None, profile="production", database_url="postgresql://u@h/db")
    assert production.sqlalchemy_database_uri == "postgresql+psycopg2://u@h/db"
    default = Settings(_env_file=None)
    assert default.sqlalchemy_database_uri.startswith("sqlite:///") and default.sqlalchemy_database_uri.endswith("var/mentorhub.db")


def test_production_cookies_are_secure(tmp_path):
    from api.config import flask_config

    config = flask_config(Settings(_env_file=None, profile="production", var_dir=tmp_path))
    assert config["SESSION_COOKIE_SECURE"] and config["SESSION_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_app_start_up_imports_no_heavy_ml_library(tmp_path):
    """mlflow, feast, prefect, evidently (and torch) cost seconds: the app must not import them."""
    code = (
        "import sys, json\n"
        "from api import create_app\n"
        "app = create_app()\n"
        "app.test_client().get('/healthz')\n"
        "print(json.dumps([m for m in ('mlflow', 'feast', 'prefect', 'evidently', 'torch') if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "MENTORHUB_PROFILE": "testing",
             "SOCKETIO_ASYNC_MODE": "threading"},
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_state_change_without_csrf_token_is_refused(app):
    @app.post("/api/v1/change")
    def change():
        return {"changed": True}

    response = app.test_client().post("/api/v1/change", json={})
    assert response.status_code == 400
    assert "csrf_token" in response.json["error"]["fields"]


def test_the_favicon_is_served_and_linked_from_every_page(client):
    import re

    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age" in response.headers.get("Cache-Control", "")
    touch = client.get("/apple-touch-icon.png")
    assert touch.status_code == 200 and touch.data[:8] == b"\x89PNG\r\n\x1a\n"

    for page in ("/", "/auth/login"):
        html = client.get(page, follow_redirects=True).get_data(as_text=True)
        icons = re.findall(r'<link rel="(?:icon|apple-touch-icon)" href="([^"]+)"', html)
        assert len(icons) == 3, page
        for href in icons:
            icon = client.get(href)
            assert icon.status_code == 200, href
            assert icon.mimetype.startswith("image/"), href
    svg = client.get("/static/favicon.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data


def test_production_refuses_weak_secrets_and_development_keeps_a_random_key(tmp_path):
    """Issue 17, item 3: no built-in or weak SECRET_KEY (nor a provider id without its secret) in production;
    without a key, development makes a random one once and keeps it in var/secret_key (mode 0600)."""
    import secrets
    import stat

    from api import create_app
    from api.extensions import db
    from api.secret_key import InsecureConfiguration
    from tests.conftest import TEST_SECRET, make_settings

    def production(**values):
        return Settings(_env_file=None, profile="production", var_dir=tmp_path / "prod",
                        socketio_async_mode="threading", **values)

    for weak in ("", "dev-only-secret-change-me", "short-key", "a" * 64):
        with pytest.raises(InsecureConfiguration, match="SECRET_KEY"):
            create_app(settings=production(secret_key=weak))
    strong = secrets.token_urlsafe(48)
    with pytest.raises(InsecureConfiguration, match="STRIPE_WEBHOOK_SECRET"):
        create_app(settings=production(secret_key=strong, stripe_secret_key="sk_live_123",
                                       public_base_url="https://mentorhub.example"))
    with pytest.raises(InsecureConfiguration, match="PUBLIC_BASE_URL"):  # mail links never follow a Host header
        create_app(settings=production(secret_key=strong))
    apps = [create_app(settings=production(secret_key=strong, public_base_url="https://mentorhub.example"))]
    assert apps[0].config["SECRET_KEY"] == strong

    for _ in range(2):  # made once, then read back
        apps.append(create_app(settings=Settings(_env_file=None, profile="development", var_dir=tmp_path / "dev",
                                                 socketio_async_mode="threading")))
    kept = tmp_path / "dev" / "secret_key"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert apps[1].config["SECRET_KEY"] == apps[2].config["SECRET_KEY"] == kept.read_text().strip()
    assert len(kept.read_text().strip()) >= 32
    apps.append(create_app(settings=make_settings(tmp_path / "test")))
    assert apps[-1].config["SECRET_KEY"] == TEST_SECRET  # tests' explicit keys still work
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def test_a_second_server_on_a_busy_port_refuses_to_start(tmp_path):
    """Issue 17, item 13: eventlet listens with SO_REUSEPORT, so a second `mentorhub serve` used to share the port
    silently; now it stops at once and says why."""
    import os
    import socket

    from api.benchmarks.common import free_port

    port = free_port()
    with socket.socket() as first:  # a running server's socket, as eventlet makes it
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        first.bind(("127.0.0.1", port))
        first.listen()
        env = {**os.environ, "VAR_DIR": str(tmp_path), "MENTORHUB_PROFILE": "testing"}
        result = subprocess.run([sys.executable, "-m", "api.server", "--port", str(port)], capture_output=True,
                                text=True, timeout=60, env=env)
    assert result.returncode != 0
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr and "already running" in result.stderr
