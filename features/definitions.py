"""Feast entities, feature views over the Parquet tables written by `pipelines.ingest`, and services.

`build_definitions(data_dir)` makes every object for the feature tables in `data_dir`; the
module-level objects (what `feast apply` in this folder registers) use the project's
`var/feast/data`. This module imports only Feast and the standard library.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "feast" / "data"

# Feature rows stay valid this long after the activity that produced them. Long on purpose: a
# mentor's profile or a quiet learner's counts do not expire, and Feast's file offline store drops
# (rather than nulls) entity rows whose only feature rows are older than the TTL.
FEATURE_TTL = timedelta(days=3650)

LEARNER_FEATURES = "learner_features"
MENTOR_ACTIVITY = "mentor_activity"
MENTOR_PROFILE = "mentor_profile"
LEARNER_MENTOR = "learner_mentor"
RANKING_SERVICE = "ranking_model_v1"

# name -> (entity names, [(feature, feast type)]): the schema the feature tables follow.
FEATURE_TABLES: dict[str, tuple[tuple[str, ...], list[tuple[str, object]]]] = {
    LEARNER_FEATURES: (
        ("learner",),
        [
            ("interest_topics", String),
            ("interests_text", String),
            ("searches_30d", Int64),
            ("searches_90d", Int64),
            ("views_30d", Int64),
            ("views_90d", Int64),
            ("bookings_30d", Int64),
            ("bookings_90d", Int64),
            ("avg_price_booked", Float64),
            ("price_band", Int64),
            ("completed_sessions", Int64),
            ("avg_rating_given", Float64),
        ],
    ),
    MENTOR_ACTIVITY: (
        ("mentor",),
        [
            ("rating_avg", Float64),
            ("rating_bayes", Float64),
            ("rating_count", Int64),
            ("popularity_90d", Int64),
            ("response_rate", Float64),
            ("acceptance_rate", Float64),
        ],
    ),
    MENTOR_PROFILE: (
        ("mentor",),
        [
            ("price_minor", Int64),
            ("years_experience", Int64),
            ("topics", String),
            ("text", String),
        ],
    ),
    LEARNER_MENTOR: (
        ("learner", "mentor"),
        [
            ("views", Int64),
            ("bookings", Int64),
            ("last_rating", Float64),
        ],
    ),
}

learner = Entity(name="learner", join_keys=["learner_id"], value_type=ValueType.INT64,
                 description="A learner (users.id of a user with a learner profile).")
mentor = Entity(name="mentor", join_keys=["mentor_id"], value_type=ValueType.INT64,
                description="A mentor (mentor_profiles.user_id).")
ENTITIES = {"learner": learner, "mentor": mentor}


def feature_table_path(data_dir: Path | str, name: str) -> Path:
    """Where ingest writes the Parquet table of one feature view."""
    return Path(data_dir) / f"{name}.parquet"


def build_definitions(data_dir: Path | str = DEFAULT_DATA_DIR) -> list:
    """Entities, feature views (one per feature table in `data_dir`) and the ranking feature service."""
    views = {}
    for name, (entity_names, fields) in FEATURE_TABLES.items():
        source = FileSource(
            name=f"{name}_source",
            path=str(feature_table_path(Path(data_dir).resolve(), name)),
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        )
        views[name] = FeatureView(
            name=name,
            entities=[ENTITIES[e] for e in entity_names],
            ttl=FEATURE_TTL,
            schema=[Field(name=f, dtype=t) for f, t in fields],
            online=True,
            source=source,
            tags={"owner": "ml-platform"},
        )
    service = FeatureService(
        name=RANKING_SERVICE,
        features=list(views.values()),
        description="Everything the ranking model reads about a learner, a mentor and the pair.",
    )
    return [learner, mentor, *views.values(), service]


def feature_refs(view: str) -> list[str]:
    """`view:feature` references of every feature of one view."""
    return [f"{view}:{f}" for f, _ in FEATURE_TABLES[view][1]]


# What `feast apply` (run in this folder) registers: the project's default var/feast/data.
(
    _learner,
    _mentor,
    learner_features_view,
    mentor_activity_view,
    mentor_profile_view,
    learner_mentor_view,
    ranking_service,
) = build_definitions(DEFAULT_DATA_DIR)
