"""Search and profile-preview views (pages and JSON); every search and preview view is logged to `events`."""
from __future__ import annotations

from datetime import timezone
from zoneinfo import ZoneInfo

from flask import current_app, render_template, request, url_for
from flask_login import current_user
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BuildError

from api.activity import log_event
from api.errors import error_response
from api.extensions import db
from api.search import api_bp, bp, query
from api.money import viewer_currency
from api.search.currency import format_money, major_text, supported_currencies
from api.search.filters import EXPERIENCE_LEVELS, LANGUAGE_NAMES, SORTS, FilterError, parse_filters
from api.tables import Event, EventType, utcnow

UTC = timezone.utc


def _settings():
    return current_app.config["MENTORHUB_SETTINGS"]


def _viewer_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


def _viewer_defaults() -> tuple[str, str]:
    """The viewer's currency and time zone (their account's when logged in)."""
    currency, tz = viewer_currency(current_user), "UTC"
    if current_user.is_authenticated:
        tz = current_user.timezone or "UTC"
    return currency, tz


def _page_args(args: MultiDict) -> MultiDict:
    """A signed-in person sees every price in their own currency (their profile's preference), on every page;
    only anonymous visitors choose one per search."""
    if current_user.is_authenticated and "currency" in args:
        args = MultiDict(args)
        args.pop("currency")
    return args


def _parse(args: MultiDict):
    settings = _settings()
    currency, tz = _viewer_defaults()
    return parse_filters(
        args, topic_ids_by_slug=query.topic_ids_by_slug, default_currency=currency, default_tz=tz,
        page_size=settings.search_page_size, max_page_size=settings.search_max_page_size,
        max_availability_days=settings.search_max_availability_days,
    )


_EVENTS = Event.__table__
_INSERT_EVENT = _EVENTS.insert()
_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit TO OFF")


def _orm_ids_needed(connection) -> bool:
    """SQLite with an exposure writer: event ids come from the writer's counter (its ORM hook), so use the ORM."""
    if connection.dialect.name == "postgresql":
        return False
    from api.recommendations import exposures

    return connection.engine in exposures._writers


def _log_search(result: query.SearchResult, channel: str) -> None:
    payload = {"channel": channel, **result.filters.log_payload(), "total": result.total,
               "total_exact": result.total_exact, "results": [card.id for card in result.mentors]}
    connection = db.session.connection()
    if _orm_ids_needed(connection):
        log_event(EventType.SEARCH, user_id=_viewer_id(), **payload)
    else:  # one Core INSERT in the request's transaction: the same row log_event writes, without an ORM object
        if connection.dialect.name == "postgresql":
            # a search event is telemetry: commit it without waiting for the WAL flush, as SQLite's synchronous=NORMAL
            # does for every commit; a crash of the database may lose its last moment of searches, never corrupt them
            connection.execute(_ASYNC_COMMIT)
        connection.execute(_INSERT_EVENT, {
            "event_type": EventType.SEARCH, "user_id": _viewer_id(), "mentor_id": None, "booking_id": None,
            "exposure_id": None, "model_version": None, "arm": None, "occurred_at": utcnow(), "payload": payload})
    db.session.commit()


def media_url(stored_name: str | None) -> str | None:
    if not stored_name:
        return None
    try:
        return url_for("profiles.media", name=stored_name)
    except BuildError:
        return None


def _query_args(args: MultiDict, drop: tuple[str, ...] = (), **replace) -> list[tuple[str, str]]:
    """The current search parameters as (name, value) pairs, minus `drop`, with `replace` applied."""
    pairs = [(k, v) for k, v in args.items(multi=True) if k not in drop and k not in replace and v != ""]
    for key, value in replace.items():
        if value is not None:
            pairs.append((key, str(value)))
    return pairs


def _search_url(args: MultiDict, drop: tuple[str, ...] = (), **replace) -> str:
    from urllib.parse import urlencode

    pairs = _query_args(args, drop + ("page",) if "page" not in replace else drop, **replace)
    return url_for("search.search_page") + ("?" + urlencode(pairs) if pairs else "")


# ---------------------------------------------------------------- JSON


@api_bp.get("/mentors")
def api_search():
    """Search approved mentors: q, topic, min_rating, price_min/price_max (in `currency`), experience,
    language, available_from/available_to/time_from/time_to (in `tz`), sort, page, per_page."""
    try:
        filters = _parse(request.args)
    except FilterError as error:
        return error_response(400, f"Invalid {error.param}: {error.message}", {error.param: error.message})
    result = query.search_mentors(filters, learner_id=_viewer_id())
    _log_search(result, "api")
    preview_url = _preview_url_pattern()
    return {
        "mentors": [card.as_dict() | {"preview_url": preview_url.format(card.id)} for card in result.mentors],
        "total": result.total, "total_exact": result.total_exact, "page": filters.page, "per_page": filters.per_page, "pages": result.pages,
        "sort": filters.sort, "currency": filters.currency, "tz": filters.tz,
        "filters": filters.log_payload(), "suggestions": result.suggestions,
        "exchange_rates": "fixed demo rates (not market data)",
    }


def _preview_url_pattern() -> str:
    """The preview URL with `{}` for the mentor id: one url_for per page instead of one per card."""
    return url_for("search_api.api_preview", mentor_id=0).replace("/0/", "/{}/")


def _review_json(review: dict) -> dict:
    return {**review, "created_at": review["created_at"].isoformat() if review["created_at"] else None,
            "replied_at": review["replied_at"].isoformat() if review["replied_at"] else None}


def _review_page_number() -> int | None:
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        return None
    return page if page >= 1 else None


@api_bp.get("/mentors/<int:mentor_id>/preview")
def api_preview(mentor_id: int):
    """Everything public about an approved mentor, next free slots, rating distribution, first reviews."""
    currency, tz = _viewer_defaults()
    currency = (request.args.get("currency") or currency).upper()
    if currency not in supported_currencies():
        return error_response(400, "Invalid currency", {"currency": "must be one of " + ", ".join(supported_currencies())})
    page = _review_page_number()
    if page is None:
        return error_response(400, "Invalid page", {"page": "must be a whole number from 1"})
    preview = query.mentor_preview(mentor_id, currency, page)
    if preview is None:
        return error_response(404, "No such mentor.")
    log_event(EventType.PROFILE_VIEW, user_id=_viewer_id(), mentor_id=mentor_id, channel="api", source="preview")
    db.session.commit()
    card = preview.card
    return {
        **card.as_dict(), "bio": preview.bio, "past_roles": preview.past_roles,
        "certifications": preview.certifications, "timezone": preview.timezone,
        "picture_url": media_url(card.picture_path), "video_url": preview.video_url,
        "next_free_slots": [slot.isoformat() for slot in preview.next_slots],
        "rating_distribution": {str(k): v for k, v in preview.distribution.items()},
        "reviews": [_review_json(r) for r in preview.reviews.reviews],
        "reviews_total": preview.reviews.total, "reviews_page": preview.reviews.page,
        "reviews_pages": preview.reviews.pages,
    }


@api_bp.get("/mentors/<int:mentor_id>/reviews")
def api_reviews(mentor_id: int):
    """A page of a mentor's visible reviews, newest first."""
    if query.public_mentor(mentor_id) is None:
        return error_response(404, "No such mentor.")
    page = _review_page_number()
    if page is None:
        return error_response(400, "Invalid page", {"page": "must be a whole number from 1"})
    reviews = query.review_page(mentor_id, page, _settings().search_reviews_page_size)
    return {"reviews": [_review_json(r) for r in reviews.reviews], "total": reviews.total,
            "page": reviews.page, "pages": reviews.pages}


# ---------------------------------------------------------------- pages


def _form_context(args: MultiDict, currency: str) -> dict:
    return {
        "topics": query.all_topics(), "sorts": SORTS, "levels": EXPERIENCE_LEVELS,
        "languages": LANGUAGE_NAMES, "currencies": supported_currencies(), "args": args,
        "currency_is_preference": current_user.is_authenticated,
        "selected_topics": set(args.getlist("topic")), "selected_levels": set(args.getlist("experience")),
        "selected_languages": set(args.getlist("language")), "currency": currency,
    }


@bp.get("/mentors")
def search_page():
    """Find a mentor: filters on the side, results with a total, pages, and help when nothing matches."""
    args = _page_args(request.args)
    currency, tz = _viewer_defaults()
    try:
        filters = _parse(args)
    except FilterError as error:
        context = _form_context(args, (args.get("currency") or currency).upper())
        return render_template("search/index.html", result=None, filters=None, error=error, tz=args.get("tz") or tz,
                               search_url=lambda **kw: _search_url(args, **kw), **context), 400
    result = query.search_mentors(filters, learner_id=_viewer_id())
    _log_search(result, "web")
    context = _form_context(args, filters.currency)
    return render_template(
        "search/index.html", result=result, filters=filters, error=None, tz=filters.tz,
        format_money=format_money, media_url=media_url,
        search_url=lambda drop=(), **kw: _search_url(args, tuple(drop), **kw),
        price_min=major_text(filters.price_min_minor, filters.currency) if filters.price_min_minor is not None else "",
        price_max=major_text(filters.price_max_minor, filters.currency) if filters.price_max_minor is not None else "",
        **context,
    )


@bp.get("/mentors/<int:mentor_id>/preview")
def preview_page(mentor_id: int):
    """A mentor's profile preview: public profile, intro video, next free slots, rating distribution, reviews."""
    currency, tz = _viewer_defaults()
    currency = (_page_args(request.args).get("currency") or currency).upper()
    if currency not in supported_currencies():
        currency = "USD"
    tz = request.args.get("tz") or tz
    try:
        ZoneInfo(tz)
    except Exception:
        tz = "UTC"
    page = _review_page_number() or 1
    preview = query.mentor_preview(mentor_id, currency, page)
    if preview is None:
        return error_response(404, "No such mentor.")
    log_event(EventType.PROFILE_VIEW, user_id=_viewer_id(), mentor_id=mentor_id, channel="web", source="preview")
    db.session.commit()
    zone = ZoneInfo(tz)
    slots = [slot.astimezone(zone) for slot in preview.next_slots]
    try:
        book_url = url_for("bookings.book", mentor_id=mentor_id)
    except BuildError:
        book_url = None
    back = request.args.get("back", "")
    return render_template(
        "search/preview.html", preview=preview, card=preview.card, slots=slots, tz=tz, currency=currency,
        format_money=format_money, media_url=media_url, book_url=book_url,
        back_url=back if back.startswith("/mentors") else url_for("search.search_page"),
        video_kind=_video_kind(preview.video_url), levels=EXPERIENCE_LEVELS, language_names=LANGUAGE_NAMES,
        video_upload=media_url(getattr(_mentor_row(mentor_id), "video_path", None)),
    )


def _mentor_row(mentor_id: int):
    from api.tables import MentorProfile

    return db.session.get(MentorProfile, mentor_id)


def _video_kind(url: str | None) -> str | None:
    """'file' for a direct video file, 'link' for any other http(s) URL, None otherwise."""
    if not url or not url.lower().startswith(("https://", "http://")):
        return None
    return "file" if url.lower().split("?")[0].endswith((".mp4", ".webm", ".ogg")) else "link"
