"""A FeatureStore whose registry, online store and feature tables live under var_dir."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pandas as pd


def feast_dir(var_dir: Path | str) -> Path:
    """The Feast folder under var_dir: registry, online store, feature tables."""
    return Path(var_dir) / "feast"


def feature_data_dir(var_dir: Path | str) -> Path:
    """Where the feature tables (Parquet, one per feature view) are written."""
    return feast_dir(var_dir) / "data"


def make_repo_config(var_dir: Path | str, online_store: str = "sqlite", redis_url: str = ""):
    """RepoConfig of the local template with paths under var_dir; Redis online store at scale."""
    from feast import RepoConfig  # lazy: Feast is heavy, loaded only to build a store
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig  # lazy: Feast
    from feast.repo_config import RegistryConfig  # lazy: Feast

    root = feast_dir(var_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if online_store == "redis":
        if not redis_url:
            raise ValueError("the Redis online store needs a redis_url")
        from feast.infra.online_stores.redis import RedisOnlineStoreConfig  # lazy: Feast

        online = RedisOnlineStoreConfig(connection_string=redis_url_to_feast(redis_url))
    elif online_store == "sqlite":
        online = SqliteOnlineStoreConfig(path=str(root / "online_store.db"))
    else:
        raise ValueError(f"unknown online store {online_store!r}: sqlite or redis")
    return RepoConfig(
        project="mentorhub",
        provider="local",
        registry=RegistryConfig(path=str(root / "registry.db"), cache_ttl_seconds=0),
        offline_store={"type": "file"},
        online_store=online,
        entity_key_serialization_version=3,
        repo_path=root,
    )


def redis_url_to_feast(url: str) -> str:
    """redis://[:password@]host:port/db as Feast's "host:port,db=N[,password=...]" connection string."""

    if not url.startswith(("redis://", "rediss://")):
        return url  # already in Feast's format
    parsed = urlparse(url)
    parts = [f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"]
    db = (parsed.path or "/0").lstrip("/") or "0"
    parts.append(f"db={db}")
    if parsed.password:
        parts.append(f"password={parsed.password}")
    if parsed.scheme == "rediss":
        parts.append("ssl=true")
    return ",".join(parts)


def make_store(var_dir: Path | str, online_store: str = "sqlite", redis_url: str = ""):
    """A FeatureStore on the RepoConfig of `make_repo_config`."""
    from feast import FeatureStore  # lazy: Feast

    return FeatureStore(config=make_repo_config(var_dir, online_store, redis_url))


def apply_definitions(store, var_dir: Path | str) -> list[str]:
    """Register the entities, views and service for the feature tables under var_dir; returns view names."""
    from features.definitions import build_definitions  # lazy: imports Feast

    objects = build_definitions(feature_data_dir(var_dir))
    store.apply(objects)
    return [o.name for o in objects if type(o).__name__ == "FeatureView"]


def historical_features(store, entity_df, features):
    """`get_historical_features` that keeps every entity row (nulls where nothing was known yet).

    Feast's file (Dask) offline store drops an entity row whose feature rows all lie after its
    timestamp; joining the result back onto `entity_df` restores it, so the output has exactly
    the rows of `entity_df`, in its order.
    """
    keys = [c for c in entity_df.columns]
    frame = entity_df.reset_index(drop=True).copy()
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    result = store.get_historical_features(entity_df=frame, features=features).to_df()
    result["event_timestamp"] = pd.to_datetime(result["event_timestamp"], utc=True)
    result = result.drop_duplicates(keys)
    for key in keys:
        if key != "event_timestamp":
            result[key] = result[key].astype(frame[key].dtype)
    return frame.merge(result, on=keys, how="left")
