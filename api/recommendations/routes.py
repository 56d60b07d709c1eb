"""Recommendation views: the JSON API, the "For you" page, the section partial and click tracking."""
from __future__ import annotations

import logging

import orjson
from flask import Response, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from api.activity import log_event
from api.errors import error_response
from api.extensions import csrf, db
from api.recommendations import api_bp, bp, engine
from api.search import query, ranking
from api.money import viewer_currency
from api.search.currency import format_money
from api.search.filters import FilterError, parse_filters
from api.tables import Event, EventType, Role

logger = logging.getLogger(__name__)


@bp.record_once
def _install(setup_state) -> None:
    ranking.set_personal_scorer(_search_scorer)


def _search_scorer(learner_id, mentor_ids):
    if current_app.extensions.get("serving_disabled"):
        return None
    return engine.personal_scores(learner_id, mentor_ids)


def _settings():
    return current_app.config["MENTORHUB_SETTINGS"]


def _is_learner() -> bool:
    return current_user.is_authenticated and current_user.has_role(Role.LEARNER)


def _defaults() -> tuple[str, str]:
    return (viewer_currency(current_user),
            (current_user.timezone if current_user.is_authenticated else None) or "UTC")


def _parse(args: MultiDict):
    settings = _settings()
    currency, tz = _defaults()
    return parse_filters(args, topic_ids_by_slug=query.topic_ids_by_slug, default_currency=currency, default_tz=tz,
                         page_size=settings.search_page_size, max_page_size=settings.search_max_page_size,
                         max_availability_days=settings.search_max_availability_days)


def _k(args) -> int:
    settings = _settings()
    raw = args.get("k", str(settings.serving_default_k))
    try:
        k = int(raw)
    except ValueError:
        raise FilterError("k", "must be a whole number") from None
    if not 1 <= k <= settings.serving_max_k:
        raise FilterError("k", f"must be between 1 and {settings.serving_max_k}")
    return k


def _items(result: engine.Recommendations, currency: str) -> list[dict]:
    cards = engine.cards([p.mentor_id for p in result.picks], currency)
    # one URL built, the mentor id put in per item (a url_for per item costs about a tenth of the request)
    click_url = url_for("recommendations.click", exposure_id=result.exposure_id or 0, mentor_id=0)[:-1]
    items = []
    for pick in result.picks:
        card = cards.get(pick.mentor_id)
        if card is None:
            continue
        items.append({"position": pick.position, "score": pick.score, "reason": pick.reason,
                      "reason_kind": pick.reason_kind, "card": card, "click_url": f"{click_url}{pick.mentor_id}"})
    return items


def _book_again(result: engine.Recommendations, currency: str) -> list[dict]:
    """The "Book again" row: past mentors the learner rated well, with their card and the learner's rating."""
    cards = engine.cards([m for m, _r in result.book_again], currency)
    return [{"card": cards[m], "your_rating": round(r, 1), "url": url_for("search.preview_page", mentor_id=m),
             "reason": f"You rated your sessions {r:.1f}★"} for m, r in result.book_again if m in cards]


# ---------------------------------------------------------------- JSON


@api_bp.get("/recommendations")
@login_required
def api_recommendations():
    """Mentors recommended for the logged-in learner, each with a reason: k, topic, price_min/price_max (in
    `currency`), available_from/available_to/time_from/time_to (in `tz`). Logs one exposure."""
    if not _is_learner():
        return error_response(403, "Recommendations are for learners.", {"role": "learner required"})
    try:
        filters = _parse(request.args)
        k = _k(request.args)
    except FilterError as error:
        return error_response(400, f"Invalid {error.param}: {error.message}", {error.param: error.message})
    result = engine.recommend_for(current_user.id, filters, k, source="api")
    items = _items(result, filters.currency)
    return _json({
        "recommendations": [{**item["card"].as_dict(), "position": item["position"], "score": item["score"],
                             "reason": item["reason"], "reason_kind": item["reason_kind"],
                             "click_url": item["click_url"]} for item in items],
        # past mentors the learner rated well: never in "recommendations" (the candidate rule), listed here
        "book_again": [{**item["card"].as_dict(), "your_rating": item["your_rating"], "reason": item["reason"],
                        "url": item["url"]}
                       for item in _book_again(result, filters.currency)],
        "exposure_id": result.exposure_id, "model_version": result.model_version, "arm": result.arm,
        "ranking": result.source, "fallback": result.fallback, "k": k, "currency": filters.currency,
        "filters": filters.log_payload(),
    })


def _json(body: dict) -> Response:
    """orjson: a third of the standard encoder's time on this, the busiest response of the tier."""
    return Response(orjson.dumps(body), mimetype="application/json")


@api_bp.post("/recommendations/clicks")
@csrf.exempt
@login_required
def api_click():
    """Record a click on a recommended mentor: {"exposure_id", "mentor_id"} (attributed to that exposure)."""
    data = request.get_json(silent=True) or {}
    try:
        exposure_id, mentor_id = int(data.get("exposure_id")), int(data.get("mentor_id"))
    except (TypeError, ValueError):
        return error_response(400, "exposure_id and mentor_id are required", {"exposure_id": "required"})
    event = _log_click(exposure_id, mentor_id, "api")
    if event is None:
        return error_response(404, "No such exposure for you.", {"exposure_id": "unknown"})
    return {"click_id": event.id, "exposure_id": exposure_id, "mentor_id": mentor_id}, 201


def _log_click(exposure_id: int, mentor_id: int, channel: str) -> Event | None:
    from api.recommendations import exposures

    writer = exposures.existing_writer(db.engine)
    exposure = (writer.queued(exposure_id) if writer is not None and exposure_id else None) or \
        (db.session.get(Event, exposure_id) if exposure_id else None)
    if exposure is None or exposure.event_type != EventType.EXPOSURE or exposure.user_id != current_user.id:
        return None
    position = None
    shown = (exposure.payload or {}).get("mentor_ids") or []
    if mentor_id in shown:
        position = shown.index(mentor_id) + 1
    event = log_event(EventType.CLICK, user_id=current_user.id, mentor_id=mentor_id, exposure_id=exposure.id,
                      model_version=exposure.model_version, arm=exposure.arm, channel=channel, position=position)
    db.session.commit()
    return event


# ---------------------------------------------------------------- pages


@bp.get("/recommendations/go/<int:exposure_id>/<int:mentor_id>")
@login_required
def click(exposure_id: int, mentor_id: int):
    """A click on a recommendation: logged against its exposure, then on to the mentor's preview."""
    if _is_learner():
        _log_click(exposure_id, mentor_id, "web")
    return redirect(url_for("search.preview_page", mentor_id=mentor_id))


@bp.get("/recommendations")
@login_required
def page():
    """Recommended for you: the full list, with an optional topic."""
    if not _is_learner():
        return redirect(url_for("search.search_page"))
    try:
        filters = _parse(request.args)
    except FilterError:
        filters = _parse(MultiDict())
    result = engine.recommend_for(current_user.id, filters, _settings().serving_page_k, source="page")
    return render_template("recommendations/page.html", items=_items(result, filters.currency), result=result,
                           book_again=_book_again(result, filters.currency),
                           topics=query.all_topics(), selected=set(request.args.getlist("topic")),
                           format_money=format_money)


@bp.app_context_processor
def _section_helper():
    return {"recommendations_section": recommendations_section}


def recommendations_section(k: int | None = None, topic_ids: tuple[int, ...] = (), source: str = "home",
                            with_book_again: bool | None = None) -> Markup:
    """The "Recommended for you" section for the logged-in learner ('' for anyone else or on any failure), with
    the "Book again" row on the home page (not beside search results)."""
    if not _is_learner():
        return Markup("")
    try:
        currency, tz = _defaults()
        filters = _parse(MultiDict())
        if topic_ids:
            from dataclasses import replace

            filters = replace(filters, topic_ids=tuple(topic_ids))
        result = engine.recommend_for(current_user.id, filters, k or _settings().serving_section_k, source=source)
        items = _items(result, currency)
        again = _book_again(result, currency) if (source != "search" if with_book_again is None
                                                   else with_book_again) else []
        return Markup(render_template("recommendations/_section.html", items=items, result=result,
                                      book_again=again, format_money=format_money))
    except Exception:  # noqa: BLE001 - the page around it must still render
        logger.exception("recommendations section failed")
        db.session.rollback()
        return Markup("")
