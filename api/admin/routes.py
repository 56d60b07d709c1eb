"""The mentor approval queue: web page and JSON API, admin role only."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Float, Integer, String
from apiflask.validators import Length, Range
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from api.admin import api_bp, approval, bp
from api.auth.accounts import FieldError
from api.auth.decorators import admin_required
from api.auth.forms import ConfirmForm
from api.errors import error_response
from api.extensions import db
from api.profiles import service
from api.profiles.upgrade import criteria, set_criteria
from api.tables import User


class RejectForm(FlaskForm):
    reason = TextAreaField("Reason for the mentor", render_kw={"rows": 3, "maxlength": 2000},
                           description="The mentor sees this and can fix their profile.")


def _queue_items():
    items = []
    for profile in approval.pending_mentors():
        user = db.session.get(User, profile.user_id)
        items.append({"profile": profile, "user": user, "mentor": service.mentor_json(profile, private=True)})
    return items


@bp.get("/mentors")
@admin_required
def queue():
    """Pending mentors with their details and documents."""
    return render_template("admin/queue.html", items=_queue_items(), confirm_form=ConfirmForm(),
                           reject_form=RejectForm(), format_price=service.format_price)


@bp.post("/mentors/<int:user_id>/approve")
@admin_required
def approve(user_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        approval.approve(user_id, current_user.id)
    except LookupError:
        abort(404)
    except FieldError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.queue"))
    user = db.session.get(User, user_id)
    flash(f"{user.full_name} is approved and has been told by e-mail.", "success")
    return redirect(url_for("admin.queue"))


@bp.post("/mentors/<int:user_id>/reject")
@admin_required
def reject(user_id: int):
    form = RejectForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        approval.reject(user_id, current_user.id, form.reason.data)
    except LookupError:
        abort(404)
    except FieldError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.queue") + f"#mentor-{user_id}")
    user = db.session.get(User, user_id)
    flash(f"{user.full_name} is rejected and has been told why.", "success")
    return redirect(url_for("admin.queue"))


# --- JSON API -----------------------------------------------------------------------------------

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
    return {"mentors": [item["mentor"] for item in _queue_items()]}


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
    return set_criteria(data, current_user.id)
