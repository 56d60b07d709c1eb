"""The one settings object: read from the environment and `.env`, nothing else reads os.environ."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


class Settings(BaseSettings):
    """Every switch of MentorHub; each field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    profile: Literal["development", "testing", "production"] = Field(
        "development", validation_alias="MENTORHUB_PROFILE"
    )
    secret_key: str = "dev-only-secret-change-me"
    var_dir: Path = DEFAULT_VAR_DIR
    database_url: str = ""
    redis_url: str = ""
    mlflow_tracking_uri: str = ""
    prefect_api_url: str = ""
    feast_online_store: Literal["sqlite", "redis"] = "sqlite"
    socketio_async_mode: Literal["eventlet", "threading"] = "eventlet"
    cors_allowed_origins: list[str] = ["http://127.0.0.1:5000", "http://localhost:5000"]
    public_base_url: str = "http://127.0.0.1:5000"
    log_level: str = "INFO"
    log_json: bool = False
    max_upload_bytes: int = 25 * 1024 * 1024

    # tests: where the PostgreSQL tests make their databases; REQUIRE_SERVICES=1 turns a skip into a failure
    test_postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    test_redis_url: str = "redis://127.0.0.1:6379/0"
    require_services: bool = False
    chromium_path: str = "/usr/bin/chromium"

    # e-mail / SMS: an outbox file under var/ unless an SMTP host is set
    mail_server: str = ""
    mail_port: int = 25
    mail_username: str = ""
    mail_password: str = ""
    mail_use_tls: bool = False
    mail_default_sender: str = "MentorHub <no-reply@mentorhub.local>"

    # payments: the sandbox gateway unless keys are set
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""
    razorpay_key_id: str = ""
    razorpay_key_secret: str = ""
    razorpay_webhook_secret: str = ""
    razorpay_api_base: str = ""
    platform_fee_percent: float = 15.0

    # OAuth / calendar
    google_client_id: str = ""
    google_client_secret: str = ""
    google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"
    facebook_client_id: str = ""
    facebook_client_secret: str = ""

    @field_validator("var_dir")
    @classmethod
    def _absolute_var_dir(cls, value: Path) -> Path:
        return value if value.is_absolute() else (PROJECT_ROOT / value)

    @property
    def sqlalchemy_database_uri(self) -> str:
        """DATABASE_URL when set, else a SQLite file under var/."""
        if self.database_url:
            url = self.database_url
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):  # psycopg2: psycogreen makes it cooperative under eventlet
                    url = "postgresql+psycopg2://" + url[len(prefix) :]
            return url
        return f"sqlite:///{self.var_dir / 'mentorhub.db'}"

    @property
    def mlflow_uri(self) -> str:
        """MLFLOW_TRACKING_URI when set, else a SQLite store under var/."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.var_dir / 'mlflow.db'}"

    @property
    def outbox_path(self) -> Path:
        return self.var_dir / "outbox.jsonl"

    @property
    def upload_dir(self) -> Path:
        return self.var_dir / "uploads"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()
