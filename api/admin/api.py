"""JSON API of the admin panel under /api/v1/admin: `api_bp`, with the approval queue, the upgrade criteria and
the audit log here (the other JSON views are in mentor_views, ops_views, report_views and experiment_views).
Every view is for admins whose session passed two-factor sign-in (`admin_required`)."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Float, Integer, String
from apiflask.validators import Length, Range
from flask import request
from flask_login import current_user

from api.admin import approval, audit
from api.auth.accounts import FieldError
from api.auth.decorators import admin_required
from api.errors import error_response
from api.profiles.upgrade import criteria

api_bp = APIBlueprint("admin_api", __name__, url_prefix="/api/v1/admin", tag="Admin")


class RejectIn(Schema):
    reason = String(required=True, validate=Length(min=5, max=2000))


class CriteriaIn(Schema):
    min_completed_sessions = Integer(validate=Range(0, 1000))
    min_average_rating = Float(validate=Range(1, 5))
    require_verified = Boolean()
    min_account_age_days = Integer(validate=Range(0, 3650))


@api_bp.get("/mentors/pending")
@admin_required
def api_queue():
    """The approval queue, oldest first, with each mentor's documents."""
    return {"mentors": [item["mentor"] for item in approval.queue_items()]}


@api_bp.post("/mentors/<int:user_id>/approve")
@admin_required
def api_approve(user_id: int):
    """Approve a pending mentor; they become visible to learners and get an e-mail."""
    try:
        profile = approval.approve(user_id, current_user.id)
    except LookupError:
        return error_response(404, "No such mentor.")
    except FieldError as error:
        return error_response(409, error.message, {error.field: error.message})
    return {"user_id": profile.user_id, "status": profile.status.value}


@api_bp.post("/mentors/<int:user_id>/reject")
@admin_required
@api_bp.input(RejectIn, arg_name="data")
def api_reject(user_id: int, data):
    """Reject a pending mentor with a reason they will see."""
    try:
        profile = approval.reject(user_id, current_user.id, data["reason"])
    except LookupError:
        return error_response(404, "No such mentor.")
    except FieldError as error:
        return error_response(409 if error.field == "status" else 400, error.message, {error.field: error.message})
    return {"user_id": profile.user_id, "status": profile.status.value, "reason": profile.status_reason}


@api_bp.get("/upgrade-criteria")
@admin_required
def api_get_criteria():
    """The learner-to-mentor upgrade criteria."""
    return criteria()


@api_bp.put("/upgrade-criteria")
@admin_required
@api_bp.input(CriteriaIn, arg_name="data")
def api_put_criteria(data):
    """Change the upgrade criteria (stored as the ModelSetting "upgrade_criteria")."""
    return approval.set_upgrade_criteria(data, current_user.id)


@api_bp.get("/audit")
@admin_required
def api_audit():
    """The audit log, newest first (page, per_page up to 200, action prefix)."""
    page = audit.page_number(request.args)
    per_page = min(max(request.args.get("per_page", 50, type=int) or 50, 1), 200)
    rows, total = audit.entries(page=page, per_page=per_page, action=(request.args.get("action") or None))
    return {"entries": rows, "total": total, "page": page}
