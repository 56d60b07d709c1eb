"""A/B tests for the admin panel, on serving.ab: create from registered models, split, results, promote, stop.

serving.ab never commits; these functions commit and write the audit log. The split is changed here,
on the arm rows: shares are validated like serving's own.
"""
from __future__ import annotations

from api.admin import audit
from api.extensions import db
from api.recommendations.engine import state
from api.tables import AbArm, AbExperiment
from serving import ab


class ExperimentError(ValueError):
    def __init__(self, message: str, status: int = 400, field: str = "experiment") -> None:
        super().__init__(message)
        self.message, self.status, self.field = message, status, field


def listing() -> list[dict]:
    """Every experiment, newest first, with arms and live exposure counts."""
    out = []
    for experiment in ab.list_experiments(db.session):
        counts = {o.arm.id: o for o in ab.arm_outcomes(db.session, experiment["id"])}
        out.append({**ab.as_json({k: v for k, v in experiment.items() if k != "arms"}),
                    "arms": [{**ab.as_json(arm), "exposures": counts[arm.id].exposures if arm.id in counts else 0,
                              "learners": counts[arm.id].learners if arm.id in counts else 0}
                             for arm in experiment["arms"]]})
    return out


def results(experiment_id: int) -> dict:
    if ab.get_experiment(db.session, experiment_id) is None:
        raise ExperimentError("No such experiment.", 404)
    return ab.as_json(ab.analyse(db.session, experiment_id))


def create(name: str, arms: list[dict], description: str = "", start: bool = False, *, admin_id: int) -> int:
    """Arms: [{name, model_version or model_alias, traffic_share}]; the first is the control."""
    name = (name or "").strip()
    if not 3 <= len(name) <= 120:
        raise ExperimentError("Name the experiment (3 to 120 characters).", field="name")
    if db.session.query(AbExperiment.id).filter(AbExperiment.name == name).first() is not None:
        raise ExperimentError("An experiment with that name exists already.", 409, "name")
    clean = []
    for arm in arms:
        arm_name = (arm.get("name") or "").strip()[:64]
        if not arm_name:
            continue
        clean.append({"name": arm_name, "model_version": (str(arm.get("model_version") or "").strip() or None),
                      "model_alias": (arm.get("model_alias") or "").strip() or None,
                      "traffic_share": _share(arm.get("traffic_share"))})
    try:
        experiment_id = ab.create_experiment(db.session, name, clean, description=(description or "")[:2000],
                                             start=start)
    except ValueError as error:
        db.session.rollback()
        raise ExperimentError(str(error).capitalize() + ".", field="arms") from None
    audit.record("ab.create", "experiment", experiment_id, admin_id=admin_id, commit=False, name=name,
                 arms=clean, started=start)
    db.session.commit()
    return experiment_id


def _share(value) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise ExperimentError("Each share is a number between 0 and 1 (or a percentage).", field="traffic_share") from None
    if share > 1:  # given in percent
        share = share / 100
    if not 0 <= share <= 1:
        raise ExperimentError("Each share is between 0 % and 100 %.", field="traffic_share")
    return round(share, 4)


def set_split(experiment_id: int, shares: dict[int, object], *, admin_id: int) -> dict:
    """New traffic shares per arm id (fractions or percentages); they may not add up to more than 100 %."""
    experiment = db.session.get(AbExperiment, experiment_id)
    if experiment is None:
        raise ExperimentError("No such experiment.", 404)
    if experiment.status in ("stopped", "concluded"):
        raise ExperimentError("This experiment has ended; create a new one.", 409)
    arms = {arm.id: arm for arm in experiment.arms}
    unknown = set(shares) - set(arms)
    if unknown:
        raise ExperimentError(f"Arm {sorted(unknown)[0]} is not in this experiment.", field="arms")
    new = {arm_id: _share(shares[arm_id]) if arm_id in shares else arm.traffic_share for arm_id, arm in arms.items()}
    if sum(new.values()) > 1 + 1e-9:
        raise ExperimentError("The shares add up to more than 100 %.", field="traffic_share")
    before = {arms[i].name: arms[i].traffic_share for i in arms}
    for arm_id, share in new.items():
        arms[arm_id].traffic_share = share
    audit.record("ab.split", "experiment", experiment_id, admin_id=admin_id, commit=False,
                 before=before, after={arms[i].name: new[i] for i in arms})
    db.session.commit()
    _forget_serving_cache()
    return {arms[i].name: new[i] for i in arms}


def start(experiment_id: int, *, admin_id: int) -> None:
    if db.session.get(AbExperiment, experiment_id) is None:
        raise ExperimentError("No such experiment.", 404)
    ab.start_experiment(db.session, experiment_id)
    audit.record("ab.start", "experiment", experiment_id, admin_id=admin_id, commit=False)
    db.session.commit()
    _forget_serving_cache()


def stop(experiment_id: int, *, admin_id: int) -> None:
    if db.session.get(AbExperiment, experiment_id) is None:
        raise ExperimentError("No such experiment.", 404)
    ab.stop_experiment(db.session, experiment_id)
    audit.record("ab.stop", "experiment", experiment_id, admin_id=admin_id, commit=False)
    db.session.commit()
    _forget_serving_cache()


def set_arm_active(arm_id: int, active: bool, *, admin_id: int) -> AbArm:
    """Stop (or resume) one arm; its learners go to the control arm."""
    arm = db.session.get(AbArm, arm_id)
    if arm is None:
        raise ExperimentError("No such arm.", 404)
    ab.set_arm_active(db.session, arm_id, active)
    audit.record("ab.arm_resume" if active else "ab.arm_stop", "arm", arm_id, admin_id=admin_id, commit=False,
                 experiment_id=arm.experiment_id, arm=arm.name)
    db.session.commit()
    _forget_serving_cache()
    return arm


def promote(experiment_id: int, arm_name: str | None, *, admin_id: int) -> dict:
    """Move `champion` to the arm's model (the winner when no arm is named) and conclude the experiment."""
    try:
        entry = ab.promote_arm(db.session, state().registry, experiment_id, arm_name or None, by=admin_id)
    except LookupError as error:
        db.session.rollback()
        raise ExperimentError(str(error), 404) from None
    except Exception as error:  # noqa: BLE001 - ValueError (no winner) or the registry failing
        db.session.rollback()
        raise ExperimentError(f"Not promoted: {error}", 409) from None
    audit.record("ab.promote", "experiment", experiment_id, admin_id=admin_id, commit=False,
                 arm=entry.get("arm"), version=entry.get("version"), previous=entry.get("previous"))
    db.session.commit()
    _forget_serving_cache()
    return entry


def _forget_serving_cache() -> None:
    try:
        state().experiment = None
    except Exception:  # noqa: BLE001 - serving reads the change when its cache expires
        pass
