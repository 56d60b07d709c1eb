"""docker-compose.yml describes the scaled deployment with the same settings the app reads."""
import re
from pathlib import Path

import yaml

from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web1", "web2", "recommendations", "prefect-worker")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _setting_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        if isinstance(field.validation_alias, str):
            names.add(field.validation_alias.upper())
    return names


def test_compose_parses_and_has_the_scaled_services():
    services = _compose()["services"]
    assert {"postgres", "redis", "web1", "web2", "recommendations", "nginx", "mlflow", "prefect-server",
            "prefect-worker"} <= set(services)


def test_every_app_variable_is_a_setting_and_the_essentials_are_set():
    services = _compose()["services"]
    known = _setting_names()
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        unknown = set(environment) - known
        assert not unknown, f"{name} sets variables the app never reads: {unknown}"
        for essential in ("DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "SECRET_KEY", "MENTORHUB_PROFILE"):
            assert essential in environment, f"{name} misses {essential}"
        assert environment["MENTORHUB_PROFILE"] == "production"


def test_urls_point_at_services_of_the_compose_file():
    services = _compose()["services"]
    environment = services["web1"]["environment"]
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"].startswith("redis://redis:")
    assert environment["MLFLOW_TRACKING_URI"].startswith("http://mlflow:")
    assert environment["PREFECT_API_URL"].startswith("http://prefect-server:")


def test_web_workers_run_gunicorn_with_eventlet_behind_sticky_nginx():
    services = _compose()["services"]
    for name in ("web1", "web2"):
        assert services[name]["command"][0] == "gunicorn"
    gunicorn_conf = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    assert 'worker_class = "eventlet"' in gunicorn_conf
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "ip_hash;" in nginx and "server web1:8000;" in nginx and "server web2:8000;" in nginx
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} and ${VAR:?error}, with no variable set."""
    def replace(match: re.Match) -> str:
        operator, argument = match.group(2), match.group(3)
        return argument if operator == ":-" else "set-by-operator-" + "x" * 24
    return re.sub(r"\$\{(\w+)(:-|:\?)([^}]*)\}", replace, str(value))


def test_compose_environment_is_accepted_by_the_settings(monkeypatch):
    """The production environment of the compose file, read the way the app reads it."""
    for name, value in _compose()["services"]["web1"]["environment"].items():
        monkeypatch.setenv(name, _interpolate(value))
    settings = Settings(_env_file=None)
    assert settings.profile == "production"
    assert settings.sqlalchemy_database_uri.startswith("postgresql+psycopg2://mentorhub:mentorhub@postgres")
    assert settings.cors_allowed_origins == ["http://localhost:8080"]
    assert settings.public_base_url == "http://localhost:8080" and settings.forwarded_proxies == 1
    assert settings.feast_online_store == "redis" and settings.log_json


def test_recommendations_run_on_warmed_up_one_thread_workers_behind_nginx():
    from api import recommendation_server as tier

    service = _compose()["services"]["recommendations"]
    assert service["command"] == ["granian", "api.recommendation_server:serve"] and callable(tier.serve)
    assert service["env_file"] == ["deploy/recommendations.env"]
    assert service["environment"]["SOCKETIO_ASYNC_MODE"] == "threading"  # no eventlet: plain threads, no sockets
    lines = (ROOT / "deploy" / "recommendations.env").read_text().splitlines()
    server = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    assert server["GRANIAN_INTERFACE"] == "wsgi" and server["GRANIAN_FACTORY"] == "true"
    assert server["GRANIAN_BLOCKING_THREADS"] == "1" and int(server["GRANIAN_WORKERS"]) >= 2
    assert server["GRANIAN_PORT"] == "8000"
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server recommendations:8000;" in nginx
    assert "location = /api/v1/recommendations {\n        proxy_pass http://mentorhub_recommendations;" in nginx
