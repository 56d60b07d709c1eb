"""Mentor management: every mentor's performance, one mentor's page, suspend and reinstate (web and JSON)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import String
from apiflask.validators import Length
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from api.admin import approval, reports
from api.admin.api import api_bp
from api.admin.data import parse_filters
from api.admin.forms import ReasonForm
from api.admin.routes import bp
from api.auth.accounts import FieldError
from api.auth.decorators import admin_required
from api.auth.forms import ConfirmForm
from api.errors import error_response
from api.extensions import db
from api.settings import current_settings
from api.tables import User

STATUSES = ("pending", "approved", "rejected", "suspended")


def _filters():
    return parse_filters(request.args, current_settings().admin_report_days)


def _listing(filters) -> tuple[str, dict]:
    """(status, one page of mentors) from the query's status, page and per_page (10..200)."""
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    per_page = min(max(request.args.get("per_page", reports.MENTORS_PER_PAGE, type=int) or 1, 10), 200)
    return status, reports.mentor_page(filters, status or None, request.args.get("page", 1, type=int) or 1, per_page)


@bp.get("/mentors/all")
@admin_required
def mentors():
    """Mentors by name, one page at a time (status filter and aggregates in SQL)."""
    filters = _filters()
    status, listing = _listing(filters)
    return render_template("admin/mentors.html", rows=listing["rows"], listing=listing, filters=filters,
                           status=status, statuses=STATUSES)


@bp.get("/mentors/<int:user_id>")
@admin_required
def mentor_detail(user_id: int):
    filters = _filters()
    mentor = reports.mentor_detail(user_id, filters)
    if mentor is None:
        abort(404)
    return render_template("admin/mentor.html", m=mentor, filters=filters, confirm_form=ConfirmForm(),
                           reason_form=ReasonForm())


@bp.post("/mentors/<int:user_id>/suspend")
@admin_required
def suspend(user_id: int):
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        approval.suspend(user_id, current_user.id, form.reason.data)
    except LookupError:
        abort(404)
    except FieldError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.mentor_detail", user_id=user_id))
    flash(f"{db.session.get(User, user_id).full_name} is suspended and hidden from learners.", "success")
    return redirect(url_for("admin.mentor_detail", user_id=user_id))


@bp.post("/mentors/<int:user_id>/reinstate")
@admin_required
def reinstate(user_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        approval.reinstate(user_id, current_user.id)
    except LookupError:
        abort(404)
    except FieldError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.mentor_detail", user_id=user_id))
    flash(f"{db.session.get(User, user_id).full_name} is reinstated and visible again.", "success")
    return redirect(url_for("admin.mentor_detail", user_id=user_id))


# --- JSON API -----------------------------------------------------------------------------------

class ReasonIn(Schema):
    reason = String(required=True, validate=Length(min=5, max=2000))


@api_bp.get("/mentors")
@admin_required
def api_mentors():
    """Mentors with status, rating, booking rates, response time and earnings in the range (start, end, topic).

    Every mentor, unless `page` or `status` is given: then one page by name (`per_page` 10..200, default 50)
    with `total` and `pages`.
    """
    filters = _filters()
    if "page" not in request.args and "status" not in request.args:
        return {"filters": filters.args(), "mentors": reports.mentor_performance(filters)}
    status, listing = _listing(filters)
    return {"filters": {**filters.args(), "status": status}, "mentors": listing["rows"],
            **{k: listing[k] for k in ("total", "page", "pages", "per_page")}}


@api_bp.get("/mentors/<int:user_id>")
@admin_required
def api_mentor(user_id: int):
    """One mentor's performance, rating over time (monthly) and latest reviews."""
    mentor = reports.mentor_detail(user_id, _filters())
    if mentor is None:
        return error_response(404, "No such mentor.")
    return mentor


@api_bp.post("/mentors/<int:user_id>/suspend")
@admin_required
@api_bp.input(ReasonIn, arg_name="data")
def api_suspend(user_id: int, data):
    """Suspend an approved mentor with a reason they will see."""
    try:
        profile = approval.suspend(user_id, current_user.id, data["reason"])
    except LookupError:
        return error_response(404, "No such mentor.")
    except FieldError as error:
        return error_response(409 if error.field == "status" else 400, error.message, {error.field: error.message})
    return {"user_id": profile.user_id, "status": profile.status.value, "reason": profile.status_reason}


@api_bp.post("/mentors/<int:user_id>/reinstate")
@admin_required
def api_reinstate(user_id: int):
    """Reinstate a suspended mentor."""
    try:
        profile = approval.reinstate(user_id, current_user.id)
    except LookupError:
        return error_response(404, "No such mentor.")
    except FieldError as error:
        return error_response(409, error.message, {error.field: error.message})
    return {"user_id": profile.user_id, "status": profile.status.value}
