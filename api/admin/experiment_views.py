"""A/B test pages and JSON: create from registered models, change the split, results, promote, stop an arm."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from api.admin import experiments
from api.admin.api import api_bp
from api.admin.experiments import ExperimentError
from api.admin.modelsettings import registry_versions
from api.admin.routes import bp
from api.auth.decorators import admin_required
from api.auth.forms import ConfirmForm
from api.errors import error_response
from api.settings import current_settings


def _versions() -> list[dict]:
    return registry_versions(current_settings().mlflow_uri)["versions"]


@bp.get("/experiments")
@admin_required
def experiments_page():
    rows = experiments.listing()
    selected = request.args.get("id", type=int) or (rows[0]["id"] if rows else None)
    report = None
    if selected is not None:
        try:
            report = experiments.results(selected)
        except ExperimentError:
            report = None
    return render_template("admin/experiments.html", rows=rows, report=report, selected=selected,
                           confirm_form=ConfirmForm(), versions=None)


@bp.get("/experiments/new")
@admin_required
def new_experiment():
    return render_template("admin/experiment_new.html", versions=_versions(), confirm_form=ConfirmForm(),
                           error=None, form=request.args)


@bp.post("/experiments")
@admin_required
def create_experiment():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    form = request.form
    arms = [{"name": form.get(f"arm-{i}-name", ""), "model_version": form.get(f"arm-{i}-model", ""),
             "traffic_share": form.get(f"arm-{i}-share", "0")} for i in range(4)]
    arms = [a for a in arms if a["name"].strip()]
    for arm in arms:
        if arm["model_version"].startswith("@"):
            arm["model_alias"], arm["model_version"] = arm["model_version"][1:], ""
    try:
        experiment_id = experiments.create(form.get("name", ""), arms, form.get("description", ""),
                                           start=bool(form.get("start")), admin_id=current_user.id)
    except ExperimentError as error:
        flash(error.message, "error")
        return render_template("admin/experiment_new.html", versions=_versions(), confirm_form=ConfirmForm(),
                               error=error.message, form=form), error.status
    flash("The experiment is created." + (" It is running." if form.get("start") else ""), "success")
    return redirect(url_for("admin.experiments_page", id=experiment_id))


@bp.post("/experiments/<int:experiment_id>/split")
@admin_required
def split_experiment(experiment_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    shares = {int(k.split("-", 1)[1]): v for k, v in request.form.items() if k.startswith("share-")
              and k.split("-", 1)[1].isdigit()}
    try:
        after = experiments.set_split(experiment_id, shares, admin_id=current_user.id)
    except ExperimentError as error:
        flash(error.message, "error")
    else:
        flash("Split saved: " + ", ".join(f"{name} {share:.0%}" for name, share in after.items()) + ".", "success")
    return redirect(url_for("admin.experiments_page", id=experiment_id))


@bp.post("/experiments/<int:experiment_id>/<action>")
@admin_required
def experiment_action(experiment_id: int, action: str):
    if action not in ("start", "stop", "promote"):
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        if action == "start":
            experiments.start(experiment_id, admin_id=current_user.id)
            flash("The experiment is running.", "success")
        elif action == "stop":
            experiments.stop(experiment_id, admin_id=current_user.id)
            flash("The experiment is stopped: everyone gets the champion.", "success")
        else:
            entry = experiments.promote(experiment_id, request.form.get("arm") or None, admin_id=current_user.id)
            flash(f"Arm {entry['arm']} (version {entry['version']}) is the champion now.", "success")
    except ExperimentError as error:
        flash(error.message, "error")
    return redirect(url_for("admin.experiments_page", id=experiment_id))


@bp.post("/experiments/arms/<int:arm_id>/<action>")
@admin_required
def arm_action(arm_id: int, action: str):
    if action not in ("stop", "resume"):
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        arm = experiments.set_arm_active(arm_id, action == "resume", admin_id=current_user.id)
    except ExperimentError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.experiments_page"))
    flash(f"Arm {arm.name} is {'running again' if action == 'resume' else 'stopped; its learners get the control'}.",
          "success")
    return redirect(url_for("admin.experiments_page", id=arm.experiment_id))


# --- JSON API -----------------------------------------------------------------------------------

def _fail(error: ExperimentError):
    return error_response(error.status, error.message, {error.field: error.message})


@api_bp.get("/experiments")
@admin_required
def api_experiments():
    """Every experiment with its arms, shares and live exposure counts."""
    return {"experiments": experiments.listing()}


@api_bp.post("/experiments")
@admin_required
def api_create_experiment():
    """{name, description, start, arms: [{name, model_version | model_alias, traffic_share}]}; the first arm is control."""
    body = request.get_json(silent=True) or {}
    try:
        experiment_id = experiments.create(body.get("name", ""), list(body.get("arms") or []),
                                           body.get("description", ""), bool(body.get("start")),
                                           admin_id=current_user.id)
    except ExperimentError as error:
        return _fail(error)
    return {"id": experiment_id}, 201


@api_bp.get("/experiments/<int:experiment_id>")
@admin_required
def api_experiment_results(experiment_id: int):
    """Per-arm results with 95 % intervals, comparisons with control, guardrails and the winner."""
    try:
        return experiments.results(experiment_id)
    except ExperimentError as error:
        return _fail(error)


@api_bp.put("/experiments/<int:experiment_id>/split")
@admin_required
def api_split(experiment_id: int):
    """{"shares": {arm_id: share}} (fractions or percentages)."""
    body = request.get_json(silent=True) or {}
    try:
        shares = {int(k): v for k, v in dict(body.get("shares") or {}).items()}
        return {"shares": experiments.set_split(experiment_id, shares, admin_id=current_user.id)}
    except ValueError as error:
        return _fail(error if isinstance(error, ExperimentError) else ExperimentError("Arm ids are numbers."))


@api_bp.post("/experiments/<int:experiment_id>/<action>")
@admin_required
def api_experiment_action(experiment_id: int, action: str):
    """start, stop, or promote ({"arm": name}; the significant winner when none)."""
    try:
        if action == "start":
            experiments.start(experiment_id, admin_id=current_user.id)
        elif action == "stop":
            experiments.stop(experiment_id, admin_id=current_user.id)
        elif action == "promote":
            return experiments.promote(experiment_id, (request.get_json(silent=True) or {}).get("arm"),
                                       admin_id=current_user.id)
        else:
            return error_response(404, "Unknown action.")
    except ExperimentError as error:
        return _fail(error)
    return {"id": experiment_id, "action": action}


@api_bp.post("/experiments/arms/<int:arm_id>/<action>")
@admin_required
def api_arm_action(arm_id: int, action: str):
    """Stop or resume one arm."""
    if action not in ("stop", "resume"):
        return error_response(404, "Unknown action.")
    try:
        arm = experiments.set_arm_active(arm_id, action == "resume", admin_id=current_user.id)
    except ExperimentError as error:
        return _fail(error)
    return {"arm_id": arm.id, "active": arm.active}
