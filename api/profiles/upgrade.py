"""Learner-to-mentor upgrade: admin-configurable criteria (ModelSetting "upgrade_criteria")."""
from __future__ import annotations



from sqlalchemy import func, select

from api.auth.accounts import is_verified
from api.extensions import db
from api.tables import Booking, BookingStatus, LearnerRating, ModelSetting, Role, User, utcnow

SETTING_KEY = "upgrade_criteria"
DEFAULT_CRITERIA = {
    "min_completed_sessions": 5,
    "min_average_rating": 4.0,  # mentors' ratings of the learner; none yet counts as good standing
    "require_verified": True,
    "min_account_age_days": 30,
}


def criteria() -> dict:
    """The defaults, overridden by the admin's ModelSetting row when there is one."""
    row = db.session.get(ModelSetting, SETTING_KEY)
    merged = dict(DEFAULT_CRITERIA)
    if row is not None and isinstance(row.value, dict):
        merged.update({k: v for k, v in row.value.items() if k in DEFAULT_CRITERIA})
    return merged


def set_criteria(values: dict, admin_id: int | None) -> dict:
    unknown = set(values) - set(DEFAULT_CRITERIA)
    if unknown:
        raise ValueError(f"Unknown criteria: {', '.join(sorted(unknown))}")
    row = db.session.get(ModelSetting, SETTING_KEY)
    merged = {**criteria(), **values}
    if row is None:
        db.session.add(ModelSetting(key=SETTING_KEY, value=merged, updated_by=admin_id))
    else:
        row.value = merged
        row.updated_by = admin_id
    db.session.commit()
    return merged


def upgrade_status(user: User) -> dict:
    """Each criterion with what it needs and what the learner has; `eligible` when all are met."""
    rules = criteria()
    completed = db.session.scalar(select(func.count(Booking.id)).where(
        Booking.learner_id == user.id, Booking.status == BookingStatus.COMPLETED)) or 0
    average = db.session.scalar(select(func.avg(LearnerRating.rating)).where(LearnerRating.learner_id == user.id))
    age_days = (utcnow() - user.created_at).days if user.created_at else 0
    checks = [
        {"key": "completed_sessions", "label": f"At least {rules['min_completed_sessions']} completed sessions",
         "value": completed, "met": completed >= rules["min_completed_sessions"]},
        {"key": "rating", "label": f"Average rating from mentors of {rules['min_average_rating']:g} or more",
         "value": round(float(average), 2) if average is not None else None,
         "met": average is None or float(average) >= rules["min_average_rating"]},
        {"key": "account_age", "label": f"Account older than {rules['min_account_age_days']} days",
         "value": age_days, "met": age_days >= rules["min_account_age_days"]},
    ]
    if rules["require_verified"]:
        checks.append({"key": "verified", "label": "Verified e-mail and phone", "value": is_verified(user),
                       "met": is_verified(user)})
    return {"eligible": all(c["met"] for c in checks), "already_mentor": user.has_role(Role.MENTOR),
            "checks": checks, "criteria": rules}


def may_become_mentor(user: User) -> bool:
    return user.has_role(Role.MENTOR) or upgrade_status(user)["eligible"]


