"""Search's operations for the page and JSON views: read the filters, search, preview, and log each to `events`.

`search` and `preview` each log what the viewer saw and commit it (one transaction); the views never commit.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from werkzeug.routing import BuildError

from api.activity import log_event
from api.extensions import db
from api.money import viewer_currency
from api.search import query
from api.search.filters import SearchFilters, parse_filters
from api.settings import current_settings
from api.tables import Event, EventType, utcnow

_INSERT_EVENT = Event.__table__.insert()
_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit TO OFF")


def viewer_defaults(user) -> tuple[str, str]:
    """The viewer's currency and time zone (their account's when logged in)."""
    tz = (user.timezone or "UTC") if user.is_authenticated else "UTC"
    return viewer_currency(user), tz


def parse(args, currency: str, tz: str) -> SearchFilters:
    """The search parameters of a request, with these defaults; FilterError on the first problem."""
    settings = current_settings()
    return parse_filters(
        args, topic_ids_by_slug=query.topic_ids_by_slug, default_currency=currency, default_tz=tz,
        page_size=settings.search_page_size, max_page_size=settings.search_max_page_size,
        max_availability_days=settings.search_max_availability_days,
    )


def search(filters: SearchFilters, viewer_id: int | None, channel: str) -> query.SearchResult:
    """Approved mentors matching the filters, the search logged as an event; commits."""
    result = query.search_mentors(filters, learner_id=viewer_id)
    payload = {"channel": channel, **filters.log_payload(), "total": result.total,
               "total_exact": result.total_exact, "results": [card.id for card in result.mentors]}
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # a search event is telemetry: commit it without waiting for the WAL flush, as SQLite's synchronous=NORMAL
        # does for every commit; a crash of the database may lose its last moment of searches, never corrupt them
        connection.execute(_ASYNC_COMMIT)
    # one Core INSERT in the request's transaction: the row log_event writes, without an ORM object
    connection.execute(_INSERT_EVENT, {
        "event_type": EventType.SEARCH, "user_id": viewer_id, "mentor_id": None, "booking_id": None,
        "exposure_id": None, "model_version": None, "arm": None, "occurred_at": utcnow(), "payload": payload})
    db.session.commit()
    return result


def preview(mentor_id: int, currency: str, review_page: int, viewer_id: int | None,
            channel: str) -> query.MentorPreview | None:
    """Everything public about an approved mentor (None: no such mentor), the view logged as an event; commits."""
    found = query.mentor_preview(mentor_id, currency, review_page)
    if found is None:
        return None
    log_event(EventType.PROFILE_VIEW, user_id=viewer_id, mentor_id=mentor_id, channel=channel, source="preview")
    db.session.commit()
    return found


def is_public(mentor_id: int) -> bool:
    """Whether the mentor is approved and active (their preview and reviews are public)."""
    return query.public_mentor(mentor_id) is not None


def reviews(mentor_id: int, page: int) -> query.ReviewPage:
    """A page of the mentor's visible reviews, newest first."""
    return query.review_page(mentor_id, page, current_settings().search_reviews_page_size)


def review_page_number(text: str) -> int | None:
    """The review page a request asks for; None when it is not a whole number from 1."""
    try:
        page = int(text)
    except ValueError:
        return None
    return page if page >= 1 else None


def media_url(stored_name: str | None) -> str | None:
    """Where an uploaded picture or video is served (None when there is none, or no profiles feature)."""
    if not stored_name:
        return None
    try:
        return url_for("profiles.media", name=stored_name)
    except BuildError:
        return None
