"""The app's side of serving: `recommend_for(learner_id, filters, k, source)`, the one entry point of the routes,
the home-page section and the search blend.

A request reads the catalogue snapshot, the admin's settings and the running experiment from memory
(`caches`), picks the learner's candidates (the request's filters and the admin's candidate rules), ranks
them with the arm's model (`serving.recommend`) and queues one exposure event (`exposures`). Everything
degrades instead of failing: no registry or no model means popularity, a database hiccup while refreshing a
cache keeps the previous one. A learner whose bookings, reviews or profile changed since the snapshot was
built (seen on commit) is read from the database instead.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import sqlalchemy as sa

from api import hooks
from api.activity import log_event
from api.extensions import db
from api.recommendations import caches, exposures
from api.recommendations.caches import settings_changed, state
from api.recommendations.snapshot import BOOKED_STATUSES, HISTORY_LIMIT, Snapshot, rated_well
from api.search.filters import SearchFilters
from api.tables import Booking, Event, EventType, LearnerProfile, ModelSetting, Review, learner_topics, utcnow
from models import clock
from serving import ab
from serving.candidates import REFERENCE_CURRENCY, CandidateRules, booked_mask, rule_mask
from serving.recommend import DEFAULT_BLEND, Catalogue, Learner, Ranked, _percentile, merge_weights, recommend

logger = logging.getLogger(__name__)
RULES_KEY = "ranking.candidate_rules"
BLEND_KEY = "ranking.hybrid_blend"

_changed_learners = caches.changed_learners  # written on commit by the hook below, read by learner_context
CHANGE_HOOK = "recommendations.changed_learners"


def install_hooks(app) -> None:
    """Remember, on each commit of `app`, which learners' bookings, reviews or profile changed (their cached
    context is stale)."""
    hooks.install(app, CHANGE_HOOK, {"after_flush": _collect_changed_learners, "after_commit": _mark_changed_learners,
                                     "after_soft_rollback": _forget_changed_learners})


def _collect_changed_learners(session, flush_context) -> None:
    if not hooks.active(CHANGE_HOOK):
        return
    changed = session.info.setdefault("serving_changed_learners", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (Booking, Review)) and obj.learner_id is not None:
            changed.add(int(obj.learner_id))
        elif isinstance(obj, LearnerProfile) and obj.user_id is not None:
            changed.add(int(obj.user_id))


def _mark_changed_learners(session) -> None:
    changed = session.info.pop("serving_changed_learners", None)
    if changed:
        now = time.time()
        for learner_id in changed:
            _changed_learners[learner_id] = now


def _forget_changed_learners(session, previous_transaction) -> None:
    session.info.pop("serving_changed_learners", None)


# ---------------------------------------------------------------- the learner


def learner_context(learner_id: int, snapshot: Snapshot | None = None) -> Learner:
    """Interests (topics and text) and booked mentors of the learner: from the snapshot's learner index, or from
    the database when the learner changed (committed) since it was built or is newer than it."""
    index = (snapshot if snapshot is not None else caches.catalogue()).learners
    changed = _changed_learners.get(learner_id)
    if changed is None or changed < index.started:
        found = index.learners.get(learner_id)
        if found is not None:
            return found
        if learner_id <= index.max_user_id:
            return Learner(id=learner_id)
    return learner_from_db(learner_id)


def learner_from_db(learner_id: int) -> Learner:
    """Interests (topics and text) and booked mentors of the learner (three small indexed queries)."""
    interests = db.session.execute(sa.select(LearnerProfile.interests).where(LearnerProfile.user_id == learner_id)
                                   ).scalar() or ""
    topics = tuple(int(t) for t in db.session.execute(
        sa.select(learner_topics.c.topic_id).where(learner_topics.c.learner_id == learner_id)).scalars())
    booked = tuple(dict.fromkeys(int(m) for m in db.session.execute(
        sa.select(Booking.mentor_id).where(Booking.learner_id == learner_id, Booking.status.in_(BOOKED_STATUSES))
        .order_by(Booking.starts_at.desc()).limit(HISTORY_LIMIT)).scalars()))
    rated = tuple((int(m), float(r)) for _l, m, r in db.session.execute(rated_well(learner_id)))
    return Learner(id=learner_id, interest_topics=topics, interests_text=interests, booked=booked, rated_well=rated)


# ---------------------------------------------------------------- the admin's settings and the arm


def candidate_rules() -> CandidateRules:
    """ModelSetting 'ranking.candidate_rules' over the defaults (serving.candidates)."""
    return CandidateRules.from_setting(caches.model_settings().get(RULES_KEY))


def hybrid_blend() -> dict:
    """ModelSetting 'ranking.hybrid_blend' (content, collaborative, neural) over the defaults."""
    out = dict(DEFAULT_BLEND)
    for key, value in (caches.model_settings().get(BLEND_KEY) or {}).items():
        if key in out:
            try:
                out[key] = max(float(value), 0.0)
            except (TypeError, ValueError):
                continue
    return out


def set_admin_weights(weights: dict, by: int | None = None) -> dict:
    """Store the re-ranking weights (ModelSetting 'rerank_weights'); unknown keys are refused."""
    unknown = set(weights) - set(merge_weights())
    if unknown:
        raise ValueError(f"unknown weights: {', '.join(sorted(unknown))}")
    row = db.session.get(ModelSetting, caches.WEIGHTS_KEY)
    value = {k: float(v) for k, v in weights.items()}
    if row is None:
        db.session.add(ModelSetting(key=caches.WEIGHTS_KEY, value=value, updated_by=by))
    else:
        row.value = {**(row.value or {}), **value}
        row.updated_by = by
    db.session.commit()
    settings_changed()
    return merge_weights(value)


def arm_for(learner_id: int) -> ab.ArmSpec | None:
    experiment = caches.running_experiment()
    if experiment is None:
        return None
    return ab.assign_arm(learner_id, experiment["id"], experiment["arms"])


# ---------------------------------------------------------------- the request


@dataclass
class Recommendations:
    learner_id: int
    picks: list
    source: str
    model_version: str | None
    arm: str | None
    exposure_id: int | None
    fallback: str | None = None  # why the model was not used, when it was not
    book_again: list = field(default_factory=list)  # [(mentor id, the learner's rating)]: past mentors rated well


def candidate_index(snapshot: Snapshot, filters: SearchFilters | None, now: datetime,
                    rules: CandidateRules | None = None, booked: tuple[int, ...] = (), tz: str = "UTC") -> np.ndarray:
    """Catalogue positions of the mentors that fit the request's filters and the admin's candidate rules, without
    the `booked` ones (the learner's past mentors, when the rule leaves them out)."""
    cat = snapshot.catalogue
    mask = _filter_mask(snapshot, filters, now) if filters is not None else None  # None: every mentor
    if rules is not None:
        mask = _rules_mask(snapshot, rules, mask, now, tz)
    if booked:
        mask = _narrow(mask, ~booked_mask(len(cat), cat.position, booked))
    return np.arange(len(cat)) if mask is None else np.flatnonzero(mask)


def _narrow(mask: np.ndarray | None, keep: np.ndarray) -> np.ndarray:
    return keep if mask is None else mask & keep


def _anyone_left(snapshot: Snapshot, mask: np.ndarray | None) -> bool:
    return len(snapshot.catalogue) > 0 and (mask is None or bool(mask.any()))


def _filter_mask(snapshot: Snapshot, filters: SearchFilters, now: datetime) -> np.ndarray | None:
    """The request's filters: a topic, a price range (in the filters' currency), a free slot in a window."""
    cat = snapshot.catalogue
    mask = None
    if filters.topic_ids:
        # teaches one of the topics: a few rows of the topics x mentors array, not columns of every mentor
        rows = [t for t in filters.topic_ids if t < cat.topic_rows.shape[0]]
        mask = cat.topic_rows[rows].any(axis=0) if rows else np.zeros(len(cat), bool)
    if filters.price_min_minor is not None:
        mask = _narrow(mask, snapshot.converted_prices(filters.currency) >= filters.price_min_minor)
    if filters.price_max_minor is not None:
        mask = _narrow(mask, snapshot.converted_prices(filters.currency) <= filters.price_max_minor)
    if filters.availability is not None and _anyone_left(snapshot, mask):
        mask = _narrow(mask, caches.free_in_window(snapshot, filters.availability, now))
    return mask


def _rules_mask(snapshot: Snapshot, rules: CandidateRules, mask: np.ndarray | None, now: datetime,
                tz: str) -> np.ndarray | None:
    """The admin's candidate rules (serving.candidates) over `mask`, then a free slot within N days if required."""
    cat = snapshot.catalogue
    keep = rule_mask(rules, cat.rating_avg,
                     snapshot.converted_prices(REFERENCE_CURRENCY) if rules.max_price_minor > 0 else None,
                     cat.silent_since, now.timestamp())
    if keep is not None:
        mask = _narrow(mask, keep)
    days = rules.require_availability_days
    if days > 0 and _anyone_left(snapshot, mask):  # a free slot from today to N days ahead
        window = caches.default_window(tz, now.astimezone(caches.zone(tz)).date(), days + 1)
        mask = _narrow(mask, caches.free_in_window(snapshot, window, now))
    return mask


def book_again(learner: Learner, cat: Catalogue, k: int) -> list[tuple[int, float]]:
    """The learner's past mentors they rated well (most recently rated first), still on the catalogue."""
    return [(m, r) for m, r in learner.rated_well if m in cat.position][:k]


@dataclass(frozen=True)
class _Models:
    model: object | None  # the arm's (or the champion) model; None: popularity
    content: object | None
    companions: object | None
    fallback: str | None  # why there is no model


def _models(arm: ab.ArmSpec | None) -> _Models:
    """The arm's model and its companions from the registry; none (popularity) when it cannot give them."""
    registry = state().registry
    try:
        model = registry.model(alias=(arm.model_alias if arm else "champion") or "champion",
                               version=arm.model_version if arm else None)
        content, companions = registry.content_model(), registry.companions()
    except Exception as error:  # noqa: BLE001 - popularity rather than an error page
        logger.warning("model registry failed: %s", error)
        model = content = companions = None
    fallback = None if model is not None else registry.last_error or "no model registered"
    return _Models(model, content, companions, fallback)


def recommend_for(learner_id: int, filters: SearchFilters | None = None, k: int = 10, source: str = "api",
                  log: bool = True, now: datetime | None = None,
                  exclude_booked: bool | None = None) -> Recommendations:
    """Recommendations for a learner, with reasons; logs one exposure event (unless `log` is False).

    The candidates obey the admin's candidate rules (`ranking.candidate_rules`); the learner's past mentors are
    left out unless the rule `exclude_booked_by_learner` is off (or `exclude_booked` says otherwise), and the
    ones they rated well come back as `book_again`. The arm's model is blended with its companions at the
    admin's `ranking.hybrid_blend`, then re-ranked with `rerank_weights`."""
    now = now or clock.now()
    snapshot = caches.catalogue(now)
    rules = candidate_rules()
    if exclude_booked is None:
        exclude_booked = rules.exclude_booked_by_learner
    learner = learner_context(learner_id, snapshot)
    tz = (filters.tz if filters is not None else None) or "UTC"
    index = candidate_index(snapshot, filters, now, rules, learner.booked if exclude_booked else (), tz)
    arm = arm_for(learner_id)
    weights = merge_weights(caches.admin_weights(), arm.rerank_weights if arm else None)
    models = _models(arm)
    soon = (caches.free_in_window(snapshot, caches.soon_window(tz, now), now, wait=False)[index] if len(index)
            else np.zeros(0, bool))
    ranked = recommend(models.model, learner, snapshot.catalogue, index, soon, weights, k, models.content, False,
                       models.companions, hybrid_blend())
    exposure_id = None
    if log and ranked.picks:
        exposure_id = _log_exposure(learner_id, ranked, arm, filters, k, source, models.fallback)
    caches.maybe_check_experiments()
    return Recommendations(learner_id=learner_id, picks=ranked.picks, source=ranked.source,
                           model_version=ranked.model_version, arm=arm.label if arm else None,
                           exposure_id=exposure_id, fallback=models.fallback,
                           book_again=book_again(learner, snapshot.catalogue, k))


def _log_exposure(learner_id: int, ranked: Ranked, arm: ab.ArmSpec | None, filters: SearchFilters | None, k: int,
                  source: str, fallback: str | None) -> int:
    """Queue the exposure of these picks; its id at once (a background thread writes it within milliseconds)."""
    payload = dict(source=source, mentor_ids=[p.mentor_id for p in ranked.picks],
                   scores=[p.score for p in ranked.picks], reasons=[p.reason_kind for p in ranked.picks],
                   ranking=ranked.source, experiment_id=arm.experiment_id if arm else None,
                   filters=filters.log_payload() if filters is not None else {}, k=k, fallback=fallback)
    return exposures.writer_for(db.engine).submit(exposures.exposure_row(
        user_id=learner_id, model_version=ranked.model_version, arm=arm.label if arm else None,
        occurred_at=utcnow(), payload=payload))


def log_click(user_id: int, exposure_id: int, mentor_id: int, channel: str) -> Event | None:
    """Record the user's click on a mentor of one of their exposures (queued or written), with the mentor's position
    in it; None when that exposure is not theirs or does not exist. One transaction."""
    writer = exposures.existing_writer(db.engine)
    exposure = (writer.queued(exposure_id) if writer is not None and exposure_id else None) or \
        (db.session.get(Event, exposure_id) if exposure_id else None)
    if exposure is None or exposure.event_type != EventType.EXPOSURE or exposure.user_id != user_id:
        return None
    shown = (exposure.payload or {}).get("mentor_ids") or []
    position = shown.index(mentor_id) + 1 if mentor_id in shown else None
    event = log_event(EventType.CLICK, user_id=user_id, mentor_id=mentor_id, exposure_id=exposure.id,
                      model_version=exposure.model_version, arm=exposure.arm, channel=channel, position=position)
    db.session.commit()
    return event


# ---------------------------------------------------------------- search blend


def personal_scores(learner_id: int, mentor_ids) -> dict[int, float] | None:
    """The search hook: the champion's percentile score (0..1) of these mentors for this learner, or None."""
    try:
        model = state().registry.model(alias="champion")
        if model is None or not model.knows(learner_id):
            return None
        ids = np.asarray(list(mentor_ids), dtype=np.int64)
        pct = _percentile(model.scores(learner_id, ids))
        return {int(m): float(s) for m, s in zip(ids.tolist(), pct.tolist())}
    except Exception:  # noqa: BLE001 - search must never fail because of the model
        logger.exception("personal scores failed")
        return None
