"""The admin panel's pages: home, the two-factor code step, the audit log and the mentor approval queue.

`bp` holds every page of the panel (the other pages are in mentor_views, ops_views, report_views and
experiment_views); the JSON views are on `api_bp` (api.admin.api). Every view but the code step is for admins
whose session passed two-factor sign-in (`admin_required`).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from api.admin import approval, audit, moderation, monitoring, reports, signin
from api.admin.data import parse_filters
from api.admin.forms import CodeForm, ReasonForm
from api.auth import twofactor
from api.auth.accounts import FieldError
from api.auth.decorators import admin_required
from api.auth.forms import ConfirmForm
from api.auth.routes import home_for
from api.errors import error_response
from api.extensions import db
from api.profiles import service
from api.tables import Role, User
from dashboards.revenue import format_minor

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.context_processor
def _panel_context():
    """Formatting helpers and the drift banner on every admin page (read from the small reports index)."""
    helpers = {"pct": _pct, "money": _money}
    if request.endpoint == "admin.two_factor":
        return helpers
    try:
        return {**helpers, "drift_alerts": monitoring.drift_alerts()}
    except Exception:  # noqa: BLE001 - a broken report file never breaks the panel
        return {**helpers, "drift_alerts": []}


def _pct(value, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def _money(amount_minor, currency: str) -> str:
    return format_minor(int(amount_minor or 0), currency)


@bp.get("/mentors")
@admin_required
def queue():
    """Pending mentors with their details and documents."""
    return render_template("admin/queue.html", items=approval.queue_items(), confirm_form=ConfirmForm(),
                           reject_form=ReasonForm(), format_price=service.format_price)


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
    form = ReasonForm()
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


# --- two-factor sign-in (the step after the password; not behind the admin guard) ---------------

@bp.route("/2fa", methods=["GET", "POST"])
def two_factor():
    """Enrol (first time: a secret for the authenticator app) or enter the current code; then the session starts."""
    user = twofactor.pending_user()
    if user is None:
        return _no_code_step()
    enrolled = twofactor.is_enrolled(user)
    secret = None if enrolled else twofactor.enrolment_secret(user)
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        passed, left, next_url = signin.submit_code(user, form.code.data, enrolled)
        if passed:
            flash("Signed in with two-factor authentication.", "success")
            return redirect(next_url or home_for(user))
        if left == 0:
            flash("Too many wrong codes, or this step was already used: log in with your password again "
                  "(after too many wrong codes the step stays locked for a while).", "error")
            return redirect(url_for("auth.login"))
        form.code.errors = [f"That code is not right (or was already used). {left} attempt{'s' if left != 1 else ''} left."]
        status = 400
    uri = twofactor.provisioning_uri(user, secret) if secret else None
    return render_template("admin/two_factor.html", form=form, enrolled=enrolled, secret=secret, uri=uri,
                           qr_svg=twofactor.qr_svg(uri) if uri else None, user=user), status


def _no_code_step():
    """/admin/2fa without a pending password step: an admin goes to the panel or the code step, others away."""
    if current_user.is_authenticated and current_user.has_role(Role.ADMIN):
        if twofactor.passed(current_user):
            return redirect(url_for("admin.dashboard"))
        return twofactor.begin_second_step(current_user._get_current_object())
    if current_user.is_authenticated:
        return error_response(403, "You do not have access to this page.")
    flash("Log in with your password first; then enter the code from your authenticator app.", "info")
    return redirect(url_for("auth.login"))


# --- home and audit log ---------------------------------------------------------------------------

@bp.get("/")
@admin_required
def dashboard():
    """The panel's home: alerts, the last 30 days at a glance, and where to go."""
    filters = parse_filters({}, 30)
    return render_template(
        "admin/dashboard.html", alerts=monitoring.drift_alerts(), pending=len(approval.pending_mentors()),
        reported=moderation.open_count(), revenue=reports.revenue(filters),
        recent=audit.entries(per_page=8)[0], filters=filters)


@bp.get("/audit")
@admin_required
def audit_log():
    page = audit.page_number(request.args)
    action = (request.args.get("action") or "").strip()[:64]
    rows, total = audit.entries(page=page, per_page=50, action=action or None)
    return render_template("admin/audit.html", rows=rows, total=total, page=page, action=action,
                           pages=max((total + 49) // 50, 1))
