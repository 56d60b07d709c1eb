"""The admin panel's home, the two-factor step, the audit log and the mentor approval queue (web and JSON)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Float, Integer, String
from apiflask.validators import Length, Range
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from api.admin import api_bp, approval, audit, bp, twofactor
from api.auth.accounts import FieldError
from api.admin.guard import admin_panel_required as admin_required
from api.auth.forms import ConfirmForm
from api.errors import error_response
from api.extensions import db
from api.profiles import service
from api.profiles.upgrade import criteria, set_criteria
from api.tables import User

MAX_PAGE = 100_000  # a page number beyond any list; larger ones would overflow the OFFSET


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
    before = criteria()
    after = set_criteria(data, current_user.id)
    audit.record("upgrade_criteria.update", "setting", "upgrade_criteria",
                 changed={k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v})
    return after


# --- two-factor sign-in (the step after the password; not behind the panel guard) ---------------

class CodeForm(FlaskForm):
    code = StringField("6-digit code from your authenticator app",
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 7,
                                  "pattern": "[0-9 ]*", "autofocus": True})


@bp.route("/2fa", methods=["GET", "POST"])
def two_factor():
    """Enrol (first time: a secret for the authenticator app) or enter the current code; then the session starts."""
    from api.auth.routes import home_for
    from api.redirects import safe_next
    from api.tables import Role

    user = twofactor.pending_user()
    if user is None:
        if current_user.is_authenticated and current_user.has_role(Role.ADMIN):
            if twofactor.passed(current_user):
                return redirect(url_for("admin.dashboard"))
            return twofactor.begin_second_step(current_user._get_current_object())
        if current_user.is_authenticated:
            return error_response(403, "You do not have access to this page.")
        flash("Log in with your password first; then enter the code from your authenticator app.", "info")
        return redirect(url_for("auth.login"))
    enrolled = twofactor.is_enrolled(user)
    secret = None if enrolled else twofactor.enrolment_secret(user)
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        passed, left = twofactor.submit_code(user, form.code.data)  # counted on the server, one try per cookie
        if passed:
            next_url = safe_next(twofactor.pending_next())
            twofactor.start_admin_session(user)
            if not enrolled:
                audit.record("admin.totp_enrol", "user", user.id, admin_id=user.id)
            audit.record("admin.sign_in", "user", user.id, admin_id=user.id)
            flash("Signed in with two-factor authentication.", "success")
            return redirect(next_url or home_for(user))
        audit.record("admin.totp_failed", "user", user.id, admin_id=user.id, attempts_left=left)
        if left == 0:
            flash("Too many wrong codes, or this step was already used: log in with your password again "
                  "(after too many wrong codes the step stays locked for a while).", "error")
            return redirect(url_for("auth.login"))
        form.code.errors = [f"That code is not right (or was already used). {left} attempt{'s' if left != 1 else ''} left."]
        status = 400
    uri = twofactor.provisioning_uri(user, secret) if secret else None
    return render_template("admin/two_factor.html", form=form, enrolled=enrolled, secret=secret, uri=uri,
                           qr_svg=twofactor.qr_svg(uri) if uri else None, user=user), status


# --- home and audit log ---------------------------------------------------------------------------

@bp.get("/")
@admin_required
def dashboard():
    """The panel's home: alerts, the last 30 days at a glance, and where to go."""
    from api.admin import monitoring, reports
    from api.admin.data import parse_filters
    from api.chat import moderation as chat_moderation
    from api.reviews.service import reported_reviews

    filters = parse_filters({}, 30)
    revenue = reports.revenue(filters)
    return render_template(
        "admin/dashboard.html", alerts=monitoring.drift_alerts(), pending=len(approval.pending_mentors()),
        reported=len(reported_reviews()) + len(chat_moderation.open_reports()), revenue=revenue,
        recent=audit.entries(per_page=8)[0], filters=filters)


@bp.get("/audit")
@admin_required
def audit_log():
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    action = (request.args.get("action") or "").strip()[:64]
    rows, total = audit.entries(page=page, per_page=50, action=action or None)
    return render_template("admin/audit.html", rows=rows, total=total, page=page, action=action,
                           pages=max((total + 49) // 50, 1))


@api_bp.get("/audit")
@admin_required
def api_audit():
    """The audit log, newest first (page, per_page up to 200, action prefix)."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    per_page = min(max(request.args.get("per_page", 50, type=int) or 50, 1), 200)
    rows, total = audit.entries(page=page, per_page=per_page, action=(request.args.get("action") or None))
    return {"entries": rows, "total": total, "page": page}
