"""Search's JSON views under /api/v1: the mentor search, a mentor's preview and their reviews."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import request, url_for
from flask_login import current_user

from api.errors import error_response
from api.search import service
from api.search.currency import supported_currencies
from api.search.filters import FilterError

api_bp = APIBlueprint("search_api", __name__, url_prefix="/api/v1", tag="Search")


def _viewer_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


@api_bp.get("/mentors")
def api_search():
    """Search approved mentors: q, topic, min_rating, price_min/price_max (in `currency`), experience,
    language, available_from/available_to/time_from/time_to (in `tz`), sort, page, per_page."""
    try:
        filters = service.parse(request.args, *service.viewer_defaults(current_user))
    except FilterError as error:
        return error_response(400, f"Invalid {error.param}: {error.message}", {error.param: error.message})
    result = service.search(filters, _viewer_id(), "api")
    preview_url = _preview_url_pattern()
    return {
        "mentors": [card.as_dict() | {"preview_url": preview_url.format(card.id)} for card in result.mentors],
        "total": result.total, "total_exact": result.total_exact, "page": filters.page, "per_page": filters.per_page,
        "pages": result.pages, "sort": filters.sort, "currency": filters.currency, "tz": filters.tz,
        "filters": filters.log_payload(), "suggestions": result.suggestions,
        "exchange_rates": "fixed demo rates (not market data)",
    }


def _preview_url_pattern() -> str:
    """The preview URL with `{}` for the mentor id: one url_for per page instead of one per card."""
    return url_for("search_api.api_preview", mentor_id=0).replace("/0/", "/{}/")


def _review_json(review: dict) -> dict:
    return {**review, "created_at": review["created_at"].isoformat() if review["created_at"] else None,
            "replied_at": review["replied_at"].isoformat() if review["replied_at"] else None}


@api_bp.get("/mentors/<int:mentor_id>/preview")
def api_preview(mentor_id: int):
    """Everything public about an approved mentor, next free slots, rating distribution, first reviews."""
    currency, _tz = service.viewer_defaults(current_user)
    currency = (request.args.get("currency") or currency).upper()
    if currency not in supported_currencies():
        return error_response(400, "Invalid currency", {"currency": "must be one of " + ", ".join(supported_currencies())})
    page = service.review_page_number(request.args.get("page", "1"))
    if page is None:
        return error_response(400, "Invalid page", {"page": "must be a whole number from 1"})
    preview = service.preview(mentor_id, currency, page, _viewer_id(), "api")
    if preview is None:
        return error_response(404, "No such mentor.")
    card = preview.card
    return {
        **card.as_dict(), "bio": preview.bio, "past_roles": preview.past_roles,
        "certifications": preview.certifications, "timezone": preview.timezone,
        "picture_url": service.media_url(card.picture_path), "video_url": preview.video_url,
        "next_free_slots": [slot.isoformat() for slot in preview.next_slots],
        "rating_distribution": {str(k): v for k, v in preview.distribution.items()},
        "reviews": [_review_json(r) for r in preview.reviews.reviews],
        "reviews_total": preview.reviews.total, "reviews_page": preview.reviews.page,
        "reviews_pages": preview.reviews.pages,
    }


@api_bp.get("/mentors/<int:mentor_id>/reviews")
def api_reviews(mentor_id: int):
    """A page of a mentor's visible reviews, newest first."""
    if not service.is_public(mentor_id):
        return error_response(404, "No such mentor.")
    page = service.review_page_number(request.args.get("page", "1"))
    if page is None:
        return error_response(400, "Invalid page", {"page": "must be a whole number from 1"})
    reviews = service.reviews(mentor_id, page)
    return {"reviews": [_review_json(r) for r in reviews.reviews], "total": reviews.total,
            "page": reviews.page, "pages": reviews.pages}
