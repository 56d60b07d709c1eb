"""Model settings and "retrain now", the MLflow registry, Evidently monitoring, and moderation."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from api.admin import moderation as admin_moderation
from api.admin import modelsettings, monitoring
from api.admin.api import api_bp
from api.admin.routes import bp
from api.auth.decorators import admin_required
from api.auth.forms import ConfirmForm
from api.chat.rooms import ChatError
from api.errors import error_response
from api.reviews.service import ReviewError
from api.settings import current_settings


# --- model settings -----------------------------------------------------------------------------

@bp.get("/models")
@admin_required
def model_settings():
    return render_template("admin/models.html", settings=modelsettings.all_settings(), specs=modelsettings.specs(),
                           titles=modelsettings.TITLES, retrain=modelsettings.retrain_status(),
                           registry=None, mlflow_ui=current_settings().mlflow_ui_url, confirm_form=ConfirmForm(),
                           errors={})


@bp.get("/models/registry")
@admin_required
def model_registry():
    """The registry table with each version's aliases, loaded on its own (MLflow is slow to import) into the
    settings page; with a link to the MLflow UI when it answers, else how to start it."""
    return render_template("admin/_registry.html", registry=modelsettings.registry_versions(current_settings().mlflow_uri),
                           mlflow_ui=current_settings().mlflow_ui_url,
                           mlflow_ui_running=modelsettings.ui_answers(current_settings().mlflow_ui_url))


@bp.post("/models/settings/<key>")
@admin_required
def update_model_setting(key: str):
    if key not in modelsettings.specs():
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    values = {}
    for name, spec in modelsettings.specs()[key].items():
        if spec[0] is bool:
            values[name] = name in request.form
        elif name in request.form:
            values[name] = request.form[name]
    try:
        modelsettings.update(key, values, current_user.id)
    except modelsettings.SettingError as error:
        flash(error.message, "error")
        return render_template("admin/models.html", settings={**modelsettings.all_settings(), key: {
            **modelsettings.current(key), **values}}, specs=modelsettings.specs(), titles=modelsettings.TITLES,
            retrain=modelsettings.retrain_status(), registry=None, mlflow_ui=current_settings().mlflow_ui_url,
            confirm_form=ConfirmForm(), errors={error.field: error.message}), 400
    flash(f"{modelsettings.TITLES[key]} saved.", "success")
    return redirect(url_for("admin.model_settings") + f"#{key.replace('.', '-')}")


@bp.post("/models/retrain")
@admin_required
def retrain():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        run = modelsettings.start_retraining(current_user.id)
    except modelsettings.SettingError as error:
        flash(error.message, "error")
    except OSError as error:
        flash(f"The pipeline could not be started: {error.strerror or error}.", "error")
    else:
        flash(f"Retraining started in the background (process {run['pid']}); the page shows its progress.", "success")
    return redirect(url_for("admin.model_settings") + "#retrain")


@api_bp.get("/model-settings")
@admin_required
def api_model_settings():
    """Every model setting with its current value."""
    return {"settings": modelsettings.all_settings(), "retrain": modelsettings.retrain_status(),
            "mlflow_ui": current_settings().mlflow_ui_url}


@api_bp.put("/model-settings/<key>")
@admin_required
def api_update_model_setting(key: str):
    """Change some fields of one setting (JSON object of field: value); validated, stored and audited."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "Send a JSON object of field: value.")
    if key not in modelsettings.specs():
        return error_response(404, f"No setting {key!r}.")
    try:
        return {"key": key, "value": modelsettings.update(key, body, current_user.id)}
    except modelsettings.SettingError as error:
        return error_response(400, error.message, {error.field: error.message})


@api_bp.post("/retrain")
@admin_required
def api_retrain():
    """Start `mentorhub pipeline all` in a background process (409 while one is running)."""
    try:
        return modelsettings.start_retraining(current_user.id), 202
    except modelsettings.SettingError as error:
        return error_response(409, error.message)


@api_bp.get("/registry")
@admin_required
def api_registry():
    """The registered model's versions with aliases and offline metrics."""
    return modelsettings.registry_versions(current_settings().mlflow_uri)


# --- monitoring ---------------------------------------------------------------------------------

@bp.get("/monitoring")
@admin_required
def monitoring_page():
    rows = monitoring.reports()
    return render_template("admin/monitoring.html", rows=rows, alerts=monitoring.drift_alerts(rows))


@bp.get("/monitoring/reports/<name>")
@admin_required
def monitoring_report(name: str):
    path = monitoring.report_file(name)
    if path is None:
        abort(404)
    return send_file(path, mimetype="text/html", max_age=0)


@api_bp.get("/monitoring")
@admin_required
def api_monitoring():
    """The newest Evidently report of each kind with its date and drift verdict."""
    rows = monitoring.reports()
    for row in rows:
        row["created"] = row["created"].isoformat() if row["created"] else None
        row["url"] = url_for("admin.monitoring_report", name=row["file"]) if row["available"] else None
    return {"reports": rows, "drift_detected": any(r["drift"] and r["drift"]["drifted"] for r in rows)}


# --- moderation ---------------------------------------------------------------------------------

@bp.get("/moderation")
@admin_required
def moderation():
    reviews, messages = admin_moderation.queue()
    return render_template("admin/moderation.html", reviews=reviews, messages=messages, confirm_form=ConfirmForm())


@api_bp.get("/moderation")
@admin_required
def api_moderation():
    """Reported reviews (visible, most reported first) and open message reports."""
    reviews, messages = admin_moderation.queue()
    return {"reviews": reviews, "messages": messages}


@bp.post("/moderation/reviews/<int:review_id>/<action>")
@admin_required
def moderate_review(review_id: int, action: str):
    if action not in admin_moderation.REVIEW_ACTIONS or not ConfirmForm().validate_on_submit():
        abort(400 if action in admin_moderation.REVIEW_ACTIONS else 404)
    try:
        admin_moderation.hide_review(review_id, current_user._get_current_object(), action)
    except ReviewError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.moderation"))
    flash("The review is hidden." if action == "hide" else "The review is visible again.", "success")
    return redirect(url_for("admin.moderation"))


@bp.post("/moderation/messages/<int:message_id>/<action>")
@admin_required
def moderate_message(message_id: int, action: str):
    if action not in admin_moderation.MESSAGE_ACTIONS:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        admin_moderation.moderate_message(message_id, current_user._get_current_object(), action,
                                          request.form.get("reason", ""))
    except ChatError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.moderation"))
    flash("The message is deleted for everyone." if action == "delete" else "The reports are dismissed.", "success")
    return redirect(url_for("admin.moderation"))


USER_ACTION_DONE = {"mute": "The user is muted in that room.", "unmute": "The user can write again.",
                    "ban": "The user is banned from that room.", "unban": "The ban is lifted."}


@bp.post("/moderation/rooms/<int:room_id>/users/<int:user_id>/<action>")
@admin_required
def moderate_user(room_id: int, user_id: int, action: str):
    if action not in admin_moderation.USER_ACTIONS:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    room = admin_moderation.room(room_id)
    if room is None:
        abort(404)
    try:
        admin_moderation.moderate_user(room, user_id, current_user._get_current_object(), action,
                                       request.form.get("minutes", type=int), request.form.get("reason", ""))
    except ChatError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.moderation"))
    flash(USER_ACTION_DONE[action], "success")
    return redirect(url_for("admin.moderation"))
