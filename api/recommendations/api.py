"""Recommendation JSON views: GET /api/v1/recommendations and click tracking (the pages: `routes.py`).

The recommendation tier (`create_app(tier="recommendations")`) serves these views and nothing else.
"""
from __future__ import annotations

import orjson
from apiflask import APIBlueprint
from flask import Response, request
from flask_login import current_user

from api.auth.decorators import auth_required
from api.errors import error_response
from api.extensions import csrf
from api.recommendations import engine
from api.recommendations.routes import book_again_row, is_learner, k_of, parse, picked_items
from api.search.filters import FilterError

api_bp = APIBlueprint("recommendations_api", __name__, url_prefix="/api/v1", tag="Recommendations")
# the web tier's pages that the JSON links to: the recommendation tier builds these links without serving them
# (tests/api/recommendations/test_service.py checks each rule against the full app's)
WEB_LINKS = {"recommendations.click": "/recommendations/go/<int:exposure_id>/<int:mentor_id>",
             "search.preview_page": "/mentors/<int:mentor_id>/preview"}


@api_bp.get("/recommendations")
@auth_required
def api_recommendations():
    """Mentors recommended for the logged-in learner, each with a reason: k, topic, price_min/price_max (in
    `currency`), available_from/available_to/time_from/time_to (in `tz`). Logs one exposure."""
    if not is_learner():
        return error_response(403, "Recommendations are for learners.", {"role": "learner required"})
    try:
        filters = parse(request.args)
        k = k_of(request.args)
    except FilterError as error:
        return error_response(400, f"Invalid {error.param}: {error.message}", {error.param: error.message})
    result = engine.recommend_for(current_user.id, filters, k, source="api")
    items = picked_items(result, filters.currency)
    return _json({
        "recommendations": [{**item["card"].as_dict(), "position": item["position"], "score": item["score"],
                             "reason": item["reason"], "reason_kind": item["reason_kind"],
                             "click_url": item["click_url"]} for item in items],
        # past mentors the learner rated well: never in "recommendations" (the candidate rule), listed here
        "book_again": [{**item["card"].as_dict(), "your_rating": item["your_rating"], "reason": item["reason"],
                        "url": item["url"]}
                       for item in book_again_row(result, filters.currency)],
        "exposure_id": result.exposure_id, "model_version": result.model_version, "arm": result.arm,
        "ranking": result.source, "fallback": result.fallback, "k": k, "currency": filters.currency,
        "filters": filters.log_payload(),
    })


def _json(body: dict) -> Response:
    """orjson: a third of the standard encoder's time on this, the busiest response of the tier."""
    return Response(orjson.dumps(body), mimetype="application/json")


@api_bp.post("/recommendations/clicks")
@csrf.exempt
@auth_required
def api_click():
    """Record a click on a recommended mentor: {"exposure_id", "mentor_id"} (attributed to that exposure)."""
    data = request.get_json(silent=True) or {}
    try:
        exposure_id, mentor_id = int(data.get("exposure_id")), int(data.get("mentor_id"))
    except (TypeError, ValueError):
        return error_response(400, "exposure_id and mentor_id are required", {"exposure_id": "required"})
    event = engine.log_click(current_user.id, exposure_id, mentor_id, "api")
    if event is None:
        return error_response(404, "No such exposure for you.", {"exposure_id": "unknown"})
    return {"click_id": event.id, "exposure_id": exposure_id, "mentor_id": mentor_id}, 201
