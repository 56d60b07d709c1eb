"""Recommendation pages: the "For you" page, the section partial and click tracking (the JSON views: `api.py`)."""
from __future__ import annotations

import logging
from dataclasses import replace

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from api.auth.decorators import auth_required
from api.extensions import db
from api.money import viewer_currency
from api.recommendations import caches, engine
from api.search import query, ranking
from api.search.currency import format_money
from api.search.filters import FilterError, parse_filters
from api.settings import current_settings
from api.tables import Role

logger = logging.getLogger(__name__)
bp = Blueprint("recommendations", __name__)


@bp.record_once
def _install(setup_state) -> None:
    ranking.set_personal_scorer(_search_scorer)


def _search_scorer(learner_id, mentor_ids):
    if current_app.extensions.get("serving_disabled"):
        return None
    return engine.personal_scores(learner_id, mentor_ids)


def is_learner() -> bool:
    """The signed-in user is a learner (the pages and the JSON views are theirs)."""
    return current_user.is_authenticated and current_user.has_role(Role.LEARNER)


def _defaults() -> tuple[str, str]:
    return (viewer_currency(current_user),
            (current_user.timezone if current_user.is_authenticated else None) or "UTC")


def parse(args: MultiDict):
    """The request's search filters, in the user's currency and time zone unless it names others."""
    settings = current_settings()
    currency, tz = _defaults()
    return parse_filters(args, topic_ids_by_slug=query.topic_ids_by_slug, default_currency=currency, default_tz=tz,
                         page_size=settings.search_page_size, max_page_size=settings.search_max_page_size,
                         max_availability_days=settings.search_max_availability_days)


def k_of(args) -> int:
    """How many recommendations the request asks for (`k`), within the settings' bounds."""
    settings = current_settings()
    raw = args.get("k", str(settings.serving_default_k))
    try:
        k = int(raw)
    except ValueError:
        raise FilterError("k", "must be a whole number") from None
    if not 1 <= k <= settings.serving_max_k:
        raise FilterError("k", f"must be between 1 and {settings.serving_max_k}")
    return k


def picked_items(result: engine.Recommendations, currency: str) -> list[dict]:
    """The picks with their cards in this currency and their click-through URL."""
    cards = caches.cards([p.mentor_id for p in result.picks], currency)
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


def book_again_row(result: engine.Recommendations, currency: str) -> list[dict]:
    """The "Book again" row: past mentors the learner rated well, with their card and the learner's rating."""
    cards = caches.cards([m for m, _r in result.book_again], currency)
    return [{"card": cards[m], "your_rating": round(r, 1), "url": url_for("search.preview_page", mentor_id=m),
             "reason": f"You rated your sessions {r:.1f}★"} for m, r in result.book_again if m in cards]


# ---------------------------------------------------------------- pages


@bp.get("/recommendations/go/<int:exposure_id>/<int:mentor_id>")
@auth_required
def click(exposure_id: int, mentor_id: int):
    """A click on a recommendation: logged against its exposure, then on to the mentor's preview."""
    if is_learner():
        engine.log_click(current_user.id, exposure_id, mentor_id, "web")
    return redirect(url_for("search.preview_page", mentor_id=mentor_id))


@bp.get("/recommendations")
@auth_required
def page():
    """Recommended for you: the full list, with an optional topic."""
    if not is_learner():
        return redirect(url_for("search.search_page"))
    try:
        filters = parse(request.args)
    except FilterError:
        filters = parse(MultiDict())
    result = engine.recommend_for(current_user.id, filters, current_settings().serving_page_k, source="page")
    return render_template("recommendations/page.html", items=picked_items(result, filters.currency), result=result,
                           book_again=book_again_row(result, filters.currency),
                           topics=query.all_topics(), selected=set(request.args.getlist("topic")),
                           format_money=format_money)


@bp.app_context_processor
def _section_helper():
    return {"recommendations_section": recommendations_section}


def recommendations_section(k: int | None = None, topic_ids: tuple[int, ...] = (), source: str = "home",
                            with_book_again: bool | None = None) -> Markup:
    """The "Recommended for you" section for the logged-in learner ('' for anyone else or on any failure), with
    the "Book again" row on the home page (not beside search results)."""
    if not is_learner():
        return Markup("")
    try:
        currency, tz = _defaults()
        filters = parse(MultiDict())
        if topic_ids:
            filters = replace(filters, topic_ids=tuple(topic_ids))
        k = k or current_settings().serving_section_k
        result = engine.recommend_for(current_user.id, filters, k, source=source)
        items = picked_items(result, currency)
        show_again = source != "search" if with_book_again is None else with_book_again
        again = book_again_row(result, currency) if show_again else []
        return Markup(render_template("recommendations/_section.html", items=items, result=result,
                                      book_again=again, format_money=format_money))
    except Exception:  # noqa: BLE001 - the page around it must still render
        logger.exception("recommendations section failed")
        db.session.rollback()
        return Markup("")
