"""The harness's own settings, apart from the product's: the services that the tests, the benchmarks and
`mentorhub screenshots` use. Read from the environment and `.env` like the product's settings."""
from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class HarnessSettings(BaseSettings):
    """Each field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # the PostgreSQL server on which tests and benchmarks make (and drop) their scratch databases
    test_postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    test_redis_url: str = "redis://127.0.0.1:6379/0"  # the Redis of the tests and of `bench chat` without REDIS_URL
    require_services: bool = False  # 1: a test whose service (PostgreSQL, Redis, Chromium) is missing fails, not skips
    chromium_path: str = "/usr/bin/chromium"  # the browser of the browser tests and `mentorhub screenshots`


@lru_cache(maxsize=1)
def harness_settings() -> HarnessSettings:
    return HarnessSettings()
