"""What admins tune about money: the platform fee and the refund policy (ModelSetting rows over the settings)."""
from __future__ import annotations

from api.bookings.policy import refund_rules
from api.bookings.transaction import serialised_write
from api.extensions import db
from api.settings import current_settings
from api.tables import ModelSetting

FEE_KEY = "payments.platform_fee_percent"  # {"percent": 15.0}
REFUND_POLICY_KEY = "payments.refund_policy"  # {"cutoff_hours": 24, "late_refund_percent": 50}


def platform_fee_basis_points() -> int:
    """The platform's share in basis points (15 % -> 1500)."""
    row = db.session.get(ModelSetting, FEE_KEY)
    percent = current_settings().platform_fee_percent
    if row is not None and isinstance(row.value, dict) and "percent" in row.value:
        percent = float(row.value["percent"])
    return int(round(max(0.0, min(100.0, percent)) * 100))


def refund_policy() -> dict:
    cutoff_hours, late_percent = refund_rules()
    return {"cutoff_hours": cutoff_hours, "late_refund_percent": late_percent,
            "mentor_cancel_or_reject_percent": 100, "no_show_percent": 0}


def _put(key: str, value: dict, admin_id: int | None) -> None:
    row = db.session.get(ModelSetting, key)
    if row is None:
        db.session.add(ModelSetting(key=key, value=value, updated_by=admin_id))
    else:
        row.value, row.updated_by = value, admin_id


def update(admin_id: int | None, *, platform_fee_percent: float | None = None, cutoff_hours: int | None = None,
           late_refund_percent: int | None = None) -> None:
    """Store the admin's choices in one transaction; a value left None keeps the current one."""
    with serialised_write():
        if platform_fee_percent is not None:
            if not 0 <= platform_fee_percent <= 100:
                raise ValueError("platform_fee_percent must be between 0 and 100")
            _put(FEE_KEY, {"percent": float(platform_fee_percent)}, admin_id)
        if cutoff_hours is not None or late_refund_percent is not None:
            current = refund_policy()
            cutoff = current["cutoff_hours"] if cutoff_hours is None else int(cutoff_hours)
            late = current["late_refund_percent"] if late_refund_percent is None else int(late_refund_percent)
            if not (0 <= late <= 100 and 0 <= cutoff <= 24 * 30):
                raise ValueError("late_refund_percent must be 0-100 and cutoff_hours 0-720")
            _put(REFUND_POLICY_KEY, {"cutoff_hours": cutoff, "late_refund_percent": late}, admin_id)
