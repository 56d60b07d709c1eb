"""A/B experiments on recommendations: stable arm assignment, outcome metrics, significance, guardrails, promotion.

The admin panel builds its A/B pages on these functions. Three layers:

* pure (no database): `bucket`, `assign_arm`, `wilson_interval`, `mean_interval`, `two_proportion_ztest`;
* data (SQLAlchemy Core on the app's tables, handed over by `use_tables`; `conn` is a Session or Connection;
  they never commit, the caller does): `create_experiment`, `start_experiment`, `stop_experiment`, `set_arm_active`,
  `list_experiments`, `get_experiment`, `running_experiment`, `arm_outcomes`, `analyse`,
  `apply_guardrails`, `promotion_rule`, `set_promotion_rule`, `ab_log`;
* registry (moves the `champion` alias; serving follows): `promote_arm`, `rollback`, `check_experiments`.

Assignment: `bucket(learner, experiment)` is a stable hash in [0, 1); arms own consecutive slices of
[0, 1) in arm-id order, sized by `traffic_share`; a learner past the last slice is not in the
experiment (the champion with the default weights serves them). A stopped (inactive) arm's slice goes
to the control arm (the first arm), so stopping an arm never moves anyone else.

Outcomes are per exposure (one recommendation response): click-through = exposures with a click,
booking conversion = exposures with an attributed booking request, revenue per exposure = price of
attributed bookings that were accepted or completed. Exposure events carry `arm = "<experiment id>/<arm
name>"`; clicks and bookings carry the exposure's id (see api.recommendations.attribution).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable, NamedTuple, Sequence

import sqlalchemy as sa

from models import clock

CONTROL_HINT = "control"
DEFAULT_RULE = {
    "auto_promote": False,  # promote automatically when significant (else the admin clicks promote)
    "metric": "booking_conversion",  # booking_conversion | ctr
    "alpha": 0.05,  # two-sided significance level for a winner
    "min_exposures": 500,  # per arm, before any decision
    "guardrail_alpha": 0.01,  # one-sided: stop an arm whose conversion is significantly below control
    "guardrail_metric": "booking_conversion",
}
RULE_KEY = "ab_promotion_rule"
LOG_KEY = "ab_log"
REVENUE_STATUSES = ("accepted", "completed")

# ---------------------------------------------------------------- tables (the app's)


class AbTables(NamedTuple):
    """The app's tables the data functions read and write. The app defines them; serving, which may not import
    the app, is handed its MetaData at start-up (`use_tables`)."""

    experiments: sa.Table
    arms: sa.Table
    events: sa.Table
    bookings: sa.Table
    settings: sa.Table


TABLE_NAMES = ("ab_experiments", "ab_arms", "events", "bookings", "model_settings")  # in AbTables' order
_tables: AbTables | None = None


def use_tables(metadata: sa.MetaData) -> None:
    """Read and write the app's tables, found by name in its MetaData (both app factories call this)."""
    global _tables
    _tables = AbTables(*(metadata.tables[name] for name in TABLE_NAMES))


def tables() -> AbTables:
    """The tables handed over by `use_tables`."""
    if _tables is None:
        raise RuntimeError("serving.ab has no tables yet: the app hands over its MetaData with use_tables()")
    return _tables


# ---------------------------------------------------------------- pure: assignment


@dataclass(frozen=True)
class ArmSpec:
    """One arm as serving uses it."""

    id: int
    name: str
    traffic_share: float
    model_alias: str | None = None
    model_version: str | None = None
    rerank_weights: dict = field(default_factory=dict)
    active: bool = True
    experiment_id: int = 0

    @property
    def label(self) -> str:
        """What exposure events store in `arm`: '<experiment id>/<arm name>'."""
        return arm_label(self.experiment_id, self.name)


def arm_label(experiment_id: int, arm_name: str) -> str:
    return f"{experiment_id}/{arm_name}"[:64]


def bucket(learner_id: int, experiment_id: int) -> float:
    """A stable, uniform number in [0, 1) for this learner in this experiment (SHA-256, not Python's hash)."""
    digest = hashlib.sha256(f"mentorhub-ab:{experiment_id}:{learner_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_arm(learner_id: int, experiment_id: int, arms: Sequence[ArmSpec]) -> ArmSpec | None:
    """The learner's arm (stable across requests), or None when the shares leave them out of the experiment."""
    if not arms:
        return None
    ordered = sorted(arms, key=lambda a: a.id)
    point = bucket(learner_id, experiment_id)
    edge = 0.0
    for arm in ordered:
        edge += max(0.0, float(arm.traffic_share))
        if point < edge:
            if arm.active:
                return arm
            control = control_arm(ordered)
            return control if control is not None and control.active else None
    return None


def control_arm(arms: Sequence[ArmSpec]) -> ArmSpec | None:
    """The arm named 'control' if any, else the first arm (lowest id)."""
    if not arms:
        return None
    named = [a for a in arms if a.name.lower() == CONTROL_HINT]
    return named[0] if named else sorted(arms, key=lambda a: a.id)[0]


# ---------------------------------------------------------------- pure: statistics


def _z_of(confidence: float) -> float:
    """Two-sided normal quantile: 0.95 -> 1.959964."""
    return _norm_ppf(0.5 + confidence / 2)


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _norm_ppf(p: float) -> float:
    """Inverse normal CDF (Acklam's algorithm refined by one Newton step; |error| < 1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    a = [-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00]
    b = [-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01]
    c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00]
    low = 0.02425
    if p < low:
        q = math.sqrt(-2 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    elif p > 1 - low:
        q = math.sqrt(-2 * math.log(1 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    e = _norm_cdf(x) - p
    u = e * math.sqrt(2 * math.pi) * math.exp(x * x / 2)
    return x - u / (1 + x * u / 2)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there are no trials."""
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError("need 0 <= successes <= trials")
    if trials == 0:
        return 0.0, 1.0
    z = _z_of(confidence)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(total: float, total_sq: float, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and normal-approximation interval from a sum, a sum of squares and a count."""
    if n <= 0:
        return 0.0, 0.0, 0.0
    mean = total / n
    var = max(0.0, (total_sq - n * mean * mean) / (n - 1)) if n > 1 else 0.0
    half = _z_of(confidence) * math.sqrt(var / n)
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float
    diff: float  # p2 - p1 (treatment minus control)
    diff_low: float  # unpooled interval of the difference
    diff_high: float
    alternative: str


def two_proportion_ztest(x1: int, n1: int, x2: int, n2: int, alternative: str = "two-sided",
                         confidence: float = 0.95) -> ZTest:
    """Pooled two-proportion z-test of p2 vs p1 (arm 2 is the treatment, arm 1 the control).

    z = (p2 - p1) / sqrt(p (1 - p) (1/n1 + 1/n2)) with p the pooled proportion. `alternative`:
    'two-sided', 'larger' (p2 > p1) or 'smaller' (p2 < p1). Same z and p-value as
    statsmodels' proportions_ztest([x2, x1], [n2, n1]).
    """
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both samples need at least one trial")
    if not (0 <= x1 <= n1 and 0 <= x2 <= n2):
        raise ValueError("need 0 <= successes <= trials")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    diff = p2 - p1
    if se == 0:
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    else:
        z = diff / se
    if alternative == "two-sided":
        p_value = math.erfc(abs(z) / math.sqrt(2))
    elif alternative == "larger":
        p_value = 1 - _norm_cdf(z)
    elif alternative == "smaller":
        p_value = _norm_cdf(z)
    else:
        raise ValueError("alternative must be two-sided, larger or smaller")
    se_diff = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    half = _z_of(confidence) * se_diff
    return ZTest(z=z, p_value=min(1.0, max(0.0, p_value)), diff=diff, diff_low=diff - half, diff_high=diff + half,
                 alternative=alternative)


# ---------------------------------------------------------------- data: experiments


def _now() -> datetime:
    return clock.now()


def _arm_spec(row) -> ArmSpec:
    weights = row.rerank_weights
    if isinstance(weights, str):
        weights = json.loads(weights or "{}")
    return ArmSpec(id=row.id, name=row.name, traffic_share=float(row.traffic_share), model_alias=row.model_alias,
                   model_version=row.model_version, rerank_weights=dict(weights or {}), active=bool(row.active),
                   experiment_id=row.experiment_id)


def get_experiment(conn, experiment_id: int) -> dict | None:
    """{id, name, description, status, started_at, ended_at, created_at, arms: [ArmSpec]} or None."""
    t = tables()
    row = conn.execute(sa.select(t.experiments).where(t.experiments.c.id == experiment_id)).first()
    if row is None:
        return None
    arms = [_arm_spec(a) for a in conn.execute(
        sa.select(t.arms).where(t.arms.c.experiment_id == experiment_id).order_by(t.arms.c.id))]
    return {**dict(row._mapping), "arms": arms}


def list_experiments(conn) -> list[dict]:
    """Every experiment, newest first, with its arms."""
    t = tables()
    ids = conn.execute(sa.select(t.experiments.c.id).order_by(t.experiments.c.id.desc())).scalars().all()
    return [get_experiment(conn, i) for i in ids]


def running_experiment(conn) -> dict | None:
    """The running experiment (at most one runs at a time), or None."""
    t = tables()
    found = conn.execute(sa.select(t.experiments.c.id).where(t.experiments.c.status == "running")
                         .order_by(t.experiments.c.id.desc()).limit(1)).scalar()
    return get_experiment(conn, found) if found is not None else None


def _validate_arms(arms: Sequence[dict]) -> None:
    if len(arms) < 2:
        raise ValueError("an experiment needs at least two arms")
    names = [a["name"] for a in arms]
    if len(set(names)) != len(names):
        raise ValueError("arm names must be unique")
    total = 0.0
    for arm in arms:
        share = float(arm.get("traffic_share", 0))
        if not 0 <= share <= 1:
            raise ValueError("each traffic_share is between 0 and 1")
        total += share
        if not (arm.get("model_alias") or arm.get("model_version")):
            raise ValueError(f"arm {arm['name']!r} needs a model_alias or a model_version")
    if total > 1 + 1e-9:
        raise ValueError("traffic shares add up to more than 1")


def create_experiment(conn, name: str, arms: Sequence[dict], description: str = "", start: bool = False) -> int:
    """Create an experiment with arms [{name, model_alias | model_version, rerank_weights, traffic_share}].

    The first arm is the control unless one is named 'control'. Returns the experiment id.
    """
    t = tables()
    _validate_arms(arms)
    now = _now()
    experiment_id = conn.execute(sa.insert(t.experiments).values(
        name=name, description=description, status="draft", created_at=now).returning(t.experiments.c.id)).scalar()
    for arm in arms:
        conn.execute(sa.insert(t.arms).values(
            experiment_id=experiment_id, name=arm["name"], model_alias=arm.get("model_alias"),
            model_version=None if arm.get("model_version") in (None, "") else str(arm["model_version"]),
            rerank_weights=dict(arm.get("rerank_weights") or {}), traffic_share=float(arm["traffic_share"]),
            active=bool(arm.get("active", True))))
    if start:
        start_experiment(conn, experiment_id)
    return experiment_id


def start_experiment(conn, experiment_id: int) -> None:
    """Run this experiment; any other running experiment is stopped (one runs at a time)."""
    t = tables()
    now = _now()
    conn.execute(sa.update(t.experiments)
                 .where(t.experiments.c.status == "running", t.experiments.c.id != experiment_id)
                 .values(status="stopped", ended_at=now))
    conn.execute(sa.update(t.experiments).where(t.experiments.c.id == experiment_id)
                 .values(status="running", started_at=now, ended_at=None))


def stop_experiment(conn, experiment_id: int, status: str = "stopped") -> None:
    """Stop (or conclude) an experiment: everyone gets the champion again."""
    t = tables()
    if status not in ("stopped", "concluded"):
        raise ValueError("status is stopped or concluded")
    conn.execute(sa.update(t.experiments).where(t.experiments.c.id == experiment_id)
                 .values(status=status, ended_at=_now()))


def set_arm_active(conn, arm_id: int, active: bool) -> None:
    """Stop (or resume) one arm; its learners go to the control arm meanwhile."""
    t = tables()
    conn.execute(sa.update(t.arms).where(t.arms.c.id == arm_id).values(active=bool(active)))


# ---------------------------------------------------------------- data: settings and log


def _get_setting(conn, key: str, default: Any) -> Any:
    t = tables()
    value = conn.execute(sa.select(t.settings.c.value).where(t.settings.c.key == key)).scalar()
    if isinstance(value, str):
        value = json.loads(value)
    return default if value is None else value


def _put_setting(conn, key: str, value: Any, by: int | None = None) -> None:
    t = tables()
    exists = conn.execute(sa.select(t.settings.c.key).where(t.settings.c.key == key)).scalar()
    if exists is None:
        conn.execute(sa.insert(t.settings).values(key=key, value=value, updated_at=_now(), updated_by=by))
    else:
        conn.execute(sa.update(t.settings).where(t.settings.c.key == key)
                     .values(value=value, updated_at=_now(), updated_by=by))


def promotion_rule(conn) -> dict:
    """The admin's rule (ModelSetting 'ab_promotion_rule') over DEFAULT_RULE."""
    return {**DEFAULT_RULE, **dict(_get_setting(conn, RULE_KEY, {}) or {})}


def set_promotion_rule(conn, rule: dict, by: int | None = None) -> dict:
    unknown = set(rule) - set(DEFAULT_RULE)
    if unknown:
        raise ValueError(f"unknown rule keys: {', '.join(sorted(unknown))}")
    merged = {**promotion_rule(conn), **rule}
    _put_setting(conn, RULE_KEY, merged, by)
    return merged


def ab_log(conn, limit: int = 50) -> list[dict]:
    """Recent A/B decisions (guardrail stops, promotions, rollbacks), newest first."""
    return list(_get_setting(conn, LOG_KEY, []))[-limit:][::-1]


def _append_log(conn, entry: dict, by: int | None = None) -> None:
    entries = list(_get_setting(conn, LOG_KEY, []))
    entries.append({"at": _now().isoformat(), **entry})
    _put_setting(conn, LOG_KEY, entries[-500:], by)


# ---------------------------------------------------------------- data: outcomes and analysis


@dataclass
class ArmOutcome:
    """Counts and metrics of one arm; intervals are 95 % (Wilson for proportions, normal for revenue)."""

    arm: ArmSpec
    exposures: int = 0
    clicked: int = 0  # exposures with at least one click
    booked: int = 0  # exposures with at least one attributed booking request
    revenue_minor: float = 0.0  # accepted or completed attributed bookings, in the reporting currency
    revenue_sq: float = 0.0
    learners: int = 0

    @property
    def ctr(self) -> float:
        return self.clicked / self.exposures if self.exposures else 0.0

    @property
    def booking_conversion(self) -> float:
        return self.booked / self.exposures if self.exposures else 0.0

    def as_dict(self) -> dict:
        ctr_lo, ctr_hi = wilson_interval(self.clicked, self.exposures)
        conv_lo, conv_hi = wilson_interval(self.booked, self.exposures)
        rev, rev_lo, rev_hi = mean_interval(self.revenue_minor, self.revenue_sq, self.exposures)
        return {"arm": self.arm.name, "arm_id": self.arm.id, "label": self.arm.label, "active": self.arm.active,
                "model_alias": self.arm.model_alias, "model_version": self.arm.model_version,
                "traffic_share": self.arm.traffic_share, "rerank_weights": self.arm.rerank_weights,
                "exposures": self.exposures, "learners": self.learners, "clicked": self.clicked,
                "booked": self.booked,
                "ctr": self.ctr, "ctr_ci": [ctr_lo, ctr_hi],
                "booking_conversion": self.booking_conversion, "booking_conversion_ci": [conv_lo, conv_hi],
                "revenue_per_exposure_minor": rev, "revenue_per_exposure_ci": [rev_lo, rev_hi]}


def arm_outcomes(conn, experiment_id: int, convert: Callable[[int, str], float] | None = None) -> list[ArmOutcome]:
    """Per-arm exposures, clicks, attributed bookings and revenue since the experiment started.

    `convert(amount_minor, currency)` brings booking prices to one reporting currency (identity by default).
    """
    t = tables()
    experiment = get_experiment(conn, experiment_id)
    if experiment is None:
        raise LookupError(f"no experiment {experiment_id}")
    by_label = {arm.label: ArmOutcome(arm=arm) for arm in experiment["arms"]}
    labels = list(by_label)
    exposure_filter = [t.events.c.event_type == "exposure", t.events.c.arm.in_(labels)]
    if experiment.get("started_at") is not None:
        exposure_filter.append(t.events.c.occurred_at >= experiment["started_at"])
    for label, exposures, learners in conn.execute(
            sa.select(t.events.c.arm, sa.func.count(), sa.func.count(sa.distinct(t.events.c.user_id)))
            .where(*exposure_filter).group_by(t.events.c.arm)):
        by_label[label].exposures = exposures
        by_label[label].learners = learners
    exposures = sa.select(t.events.c.id.label("exposure_id"), t.events.c.arm).where(*exposure_filter).subquery("x")
    followers = t.events.alias("f")
    for label, kind, count in conn.execute(
            sa.select(exposures.c.arm, followers.c.event_type, sa.func.count(sa.distinct(followers.c.exposure_id)))
            .join(followers, followers.c.exposure_id == exposures.c.exposure_id)
            .where(followers.c.event_type.in_(("click", "booking_request")))
            .group_by(exposures.c.arm, followers.c.event_type)):
        if kind == "click":
            by_label[label].clicked = count
        else:
            by_label[label].booked = count
    revenue: dict[tuple[str, int], float] = {}
    for label, exposure_id, price, currency in conn.execute(
            sa.select(exposures.c.arm, followers.c.exposure_id, t.bookings.c.price_minor, t.bookings.c.currency)
            .join(followers, followers.c.exposure_id == exposures.c.exposure_id)
            .join(t.bookings, t.bookings.c.id == followers.c.booking_id)
            .where(followers.c.event_type == "booking_request", t.bookings.c.status.in_(REVENUE_STATUSES))):
        amount = float(convert(price, currency)) if convert else float(price)
        revenue[(label, exposure_id)] = revenue.get((label, exposure_id), 0.0) + amount
    for (label, _exposure), amount in revenue.items():
        by_label[label].revenue_minor += amount
        by_label[label].revenue_sq += amount * amount
    return list(by_label.values())


def _counts(outcome: ArmOutcome, metric: str) -> tuple[int, int]:
    if metric == "ctr":
        return outcome.clicked, outcome.exposures
    if metric == "booking_conversion":
        return outcome.booked, outcome.exposures
    raise ValueError("metric is ctr or booking_conversion")


def analyse(conn, experiment_id: int, rule: dict | None = None,
            convert: Callable[[int, str], float] | None = None) -> dict:
    """Everything the A/B page shows: per-arm metrics with intervals, each arm vs control, guardrails, winner.

    Returns {experiment, rule, control, arms: [ArmOutcome.as_dict()], comparisons: [{arm, metric, z, p_value,
    diff, diff_ci, significant, better}], guardrail: [arm names to stop], winner: arm name | None,
    ready: bool (every active arm has min_exposures)}.
    """
    rule = {**promotion_rule(conn), **(rule or {})}
    experiment = get_experiment(conn, experiment_id)
    outcomes = arm_outcomes(conn, experiment_id, convert)
    control = control_arm([o.arm for o in outcomes])
    base = next(o for o in outcomes if o.arm.id == control.id)
    comparisons, guardrail, candidates = [], [], []
    ready = all(o.exposures >= rule["min_exposures"] for o in outcomes if o.arm.active)
    for outcome in outcomes:
        if outcome.arm.id == control.id:
            continue
        for comparison in _comparisons(base, outcome, rule):
            comparisons.append(comparison)
            if comparison["metric"] == rule["metric"] and comparison["better"] and outcome.arm.active:
                candidates.append((comparison["diff"], outcome.arm.name))
        if _guardrail_breached(base, outcome, rule):
            guardrail.append(outcome.arm.name)
    winner = max(candidates)[1] if candidates else None
    return {"experiment": {k: v for k, v in experiment.items() if k != "arms"}, "rule": rule,
            "control": control.name, "arms": [o.as_dict() for o in outcomes], "comparisons": comparisons,
            "guardrail": guardrail, "winner": winner, "ready": ready}


def _comparisons(base: ArmOutcome, outcome: ArmOutcome, rule: dict) -> list[dict]:
    """The arm against control on click-through and booking conversion (a metric without exposures is skipped);
    a difference counts as significant only once both arms have the rule's minimum of exposures."""
    out = []
    for metric in ("ctr", "booking_conversion"):
        x1, n1 = _counts(base, metric)
        x2, n2 = _counts(outcome, metric)
        if n1 == 0 or n2 == 0:
            continue
        test = two_proportion_ztest(x1, n1, x2, n2)
        enough = n1 >= rule["min_exposures"] and n2 >= rule["min_exposures"]
        significant = enough and test.p_value < rule["alpha"]
        out.append({"arm": outcome.arm.name, "metric": metric, "z": test.z, "p_value": test.p_value,
                    "diff": test.diff, "diff_ci": [test.diff_low, test.diff_high],
                    "significant": significant, "better": significant and test.diff > 0})
    return out


def _guardrail_breached(base: ArmOutcome, outcome: ArmOutcome, rule: dict) -> bool:
    """An active arm, with enough exposures on both sides, significantly below control on the guardrail metric."""
    x1, n1 = _counts(base, rule["guardrail_metric"])
    x2, n2 = _counts(outcome, rule["guardrail_metric"])
    if not (outcome.arm.active and n1 >= rule["min_exposures"] and n2 >= rule["min_exposures"]):
        return False
    return two_proportion_ztest(x1, n1, x2, n2, alternative="smaller").p_value < rule["guardrail_alpha"]


def apply_guardrails(conn, experiment_id: int, report: dict | None = None) -> list[str]:
    """Stop every arm whose guardrail metric is significantly below control; returns their names."""
    report = report or analyse(conn, experiment_id)
    experiment = get_experiment(conn, experiment_id)
    stopped = []
    for arm in experiment["arms"]:
        if arm.name in report["guardrail"] and arm.active:
            set_arm_active(conn, arm.id, False)
            _append_log(conn, {"action": "guardrail_stop", "experiment_id": experiment_id, "arm": arm.name})
            stopped.append(arm.name)
    return stopped


# ---------------------------------------------------------------- registry: promotion and rollback


def arm_version(registry, arm: ArmSpec) -> str | None:
    """The registered version an arm serves (its pinned version, or what its alias points at now)."""
    if arm.model_version:
        return str(arm.model_version)
    return registry.alias_version(arm.model_alias or "champion")


def promote_arm(conn, registry, experiment_id: int, arm_name: str | None = None, by: int | None = None,
                reason: str = "admin") -> dict:
    """Move `champion` to the winning arm's version (or `arm_name`'s) and conclude the experiment.

    Raises ValueError when there is no winner and no arm was named. Serving follows at once in
    this process (the registry reloads) and within its poll interval elsewhere.
    """
    experiment = get_experiment(conn, experiment_id)
    if experiment is None:
        raise LookupError(f"no experiment {experiment_id}")
    if arm_name is None:
        arm_name = analyse(conn, experiment_id)["winner"]
        if arm_name is None:
            raise ValueError("no arm is significantly better than control yet")
    arm = next((a for a in experiment["arms"] if a.name == arm_name), None)
    if arm is None:
        raise LookupError(f"experiment {experiment_id} has no arm {arm_name!r}")
    version = arm_version(registry, arm)
    if version is None:
        raise ValueError(f"arm {arm_name!r} points at no registered model")
    previous = registry.promote(version, reason=f"{reason}: experiment {experiment_id} arm {arm_name}")
    stop_experiment(conn, experiment_id, status="concluded")
    entry = {"action": "promote", "experiment_id": experiment_id, "arm": arm_name, "version": version,
             "previous": previous, "reason": reason, "by": by}
    _append_log(conn, entry, by)
    return entry


def rollback(conn, registry, by: int | None = None) -> dict:
    """Move `champion` back to the version it pointed at before the last promotion."""
    moved = registry.rollback()
    entry = {"action": "rollback", "version": moved["version"], "previous": moved["previous"], "by": by}
    _append_log(conn, entry, by)
    return entry


def check_experiments(conn, registry) -> list[dict]:
    """The scheduled check: guardrails on the running experiment, and auto-promotion when the rule allows."""
    experiment = running_experiment(conn)
    if experiment is None:
        return []
    actions = []
    report = analyse(conn, experiment["id"])
    for name in apply_guardrails(conn, experiment["id"], report):
        actions.append({"action": "guardrail_stop", "arm": name})
    if report["rule"]["auto_promote"] and report["winner"] and report["ready"]:
        actions.append(promote_arm(conn, registry, experiment["id"], report["winner"], reason="auto"))
    return actions


def as_json(value: Any) -> Any:
    """JSON-friendly copy of a report (ArmSpec and datetimes become dicts and ISO strings)."""
    if isinstance(value, ArmSpec):
        return asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value
