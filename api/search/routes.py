"""Search's pages: the mentor search and a mentor's profile preview."""
from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BuildError

from api.errors import error_response
from api.search import query, service
from api.search.currency import format_money, major_text, supported_currencies
from api.search.filters import EXPERIENCE_LEVELS, LANGUAGE_NAMES, SORTS, FilterError

bp = Blueprint("search", __name__)


def _viewer_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


def _page_args(args: MultiDict) -> MultiDict:
    """A signed-in person sees every price in their own currency (their profile's preference), on every page;
    only anonymous visitors choose one per search."""
    if current_user.is_authenticated and "currency" in args:
        args = MultiDict(args)
        args.pop("currency")
    return args


def _query_args(args: MultiDict, drop: tuple[str, ...] = (), **replace) -> list[tuple[str, str]]:
    """The current search parameters as (name, value) pairs, minus `drop`, with `replace` applied."""
    pairs = [(k, v) for k, v in args.items(multi=True) if k not in drop and k not in replace and v != ""]
    for key, value in replace.items():
        if value is not None:
            pairs.append((key, str(value)))
    return pairs


def _search_url(args: MultiDict, drop: tuple[str, ...] = (), **replace) -> str:
    pairs = _query_args(args, drop + ("page",) if "page" not in replace else drop, **replace)
    return url_for("search.search_page") + ("?" + urlencode(pairs) if pairs else "")


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
    currency, tz = service.viewer_defaults(current_user)
    try:
        filters = service.parse(args, currency, tz)
    except FilterError as error:
        context = _form_context(args, (args.get("currency") or currency).upper())
        return render_template("search/index.html", result=None, filters=None, error=error, tz=args.get("tz") or tz,
                               search_url=lambda **kw: _search_url(args, **kw), **context), 400
    result = service.search(filters, _viewer_id(), "web")
    context = _form_context(args, filters.currency)
    return render_template(
        "search/index.html", result=result, filters=filters, error=None, tz=filters.tz,
        format_money=format_money, media_url=service.media_url,
        search_url=lambda drop=(), **kw: _search_url(args, tuple(drop), **kw),
        price_min=major_text(filters.price_min_minor, filters.currency) if filters.price_min_minor is not None else "",
        price_max=major_text(filters.price_max_minor, filters.currency) if filters.price_max_minor is not None else "",
        **context,
    )


def _preview_zone(requested: str | None, default: str) -> str:
    """The time zone the preview shows slots in: the requested one if it exists, else the viewer's."""
    tz = requested or default
    try:
        ZoneInfo(tz)
    except Exception:  # noqa: BLE001 - any name ZoneInfo cannot load falls back to UTC
        return "UTC"
    return tz


@bp.get("/mentors/<int:mentor_id>/preview")
def preview_page(mentor_id: int):
    """A mentor's profile preview: public profile, intro video, next free slots, rating distribution, reviews."""
    currency, tz = service.viewer_defaults(current_user)
    currency = (_page_args(request.args).get("currency") or currency).upper()
    if currency not in supported_currencies():
        currency = "USD"
    tz = _preview_zone(request.args.get("tz"), tz)
    page = service.review_page_number(request.args.get("page", "1")) or 1
    preview = service.preview(mentor_id, currency, page, _viewer_id(), "web")
    if preview is None:
        return error_response(404, "No such mentor.")
    slots = [slot.astimezone(ZoneInfo(tz)) for slot in preview.next_slots]
    try:
        book_url = url_for("bookings.book", mentor_id=mentor_id)
    except BuildError:
        book_url = None
    back = request.args.get("back", "")
    return render_template(
        "search/preview.html", preview=preview, card=preview.card, slots=slots, tz=tz, currency=currency,
        format_money=format_money, media_url=service.media_url, book_url=book_url,
        back_url=back if back.startswith("/mentors") else url_for("search.search_page"),
        video_kind=_video_kind(preview.video_url), levels=EXPERIENCE_LEVELS, language_names=LANGUAGE_NAMES,
        video_upload=service.media_url(preview.video_path),
    )


def _video_kind(url: str | None) -> str | None:
    """'file' for a direct video file, 'link' for any other http(s) URL, None otherwise."""
    if not url or not url.lower().startswith(("https://", "http://")):
        return None
    return "file" if url.lower().split("?")[0].endswith((".mp4", ".webm", ".ogg")) else "link"
