"""Model settings and "retrain now", the MLflow registry, Evidently monitoring, and moderation."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from api.admin import api_bp, audit, bp, modelsettings, monitoring
from api.admin.guard import admin_panel_required
from api.auth.forms import ConfirmForm
from api.errors import error_response


def _settings():
    return current_app.config["MENTORHUB_SETTINGS"]


# --- model settings -----------------------------------------------------------------------------

@bp.get("/models")
@admin_panel_required
def model_settings():
    return render_template("admin/models.html", settings=modelsettings.all_settings(), specs=modelsettings.specs(),
                           titles=modelsettings.TITLES, retrain=modelsettings.retrain_status(),
                           registry=None, mlflow_ui=_settings().mlflow_ui_url, confirm_form=ConfirmForm(),
                           errors={})


@bp.get("/models/registry")
@admin_panel_required
def model_registry():
    """The registry table with each version's aliases, loaded on its own (MLflow is slow to import) into the
    settings page; with a link to the MLflow UI when it answers, else how to start it."""
    return render_template("admin/_registry.html", registry=modelsettings.registry_versions(_settings().mlflow_uri),
                           mlflow_ui=_settings().mlflow_ui_url,
                           mlflow_ui_running=modelsettings.ui_answers(_settings().mlflow_ui_url))


@bp.post("/models/settings/<key>")
@admin_panel_required
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
            retrain=modelsettings.retrain_status(), registry=None, mlflow_ui=_settings().mlflow_ui_url,
            confirm_form=ConfirmForm(), errors={error.field: error.message}), 400
    flash(f"{modelsettings.TITLES[key]} saved.", "success")
    return redirect(url_for("admin.model_settings") + f"#{key.replace('.', '-')}")


@bp.post("/models/retrain")
@admin_panel_required
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
@admin_panel_required
def api_model_settings():
    """Every model setting with its current value."""
    return {"settings": modelsettings.all_settings(), "retrain": modelsettings.retrain_status(),
            "mlflow_ui": _settings().mlflow_ui_url}


@api_bp.put("/model-settings/<key>")
@admin_panel_required
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
@admin_panel_required
def api_retrain():
    """Start `mentorhub pipeline all` in a background process (409 while one is running)."""
    try:
        return modelsettings.start_retraining(current_user.id), 202
    except modelsettings.SettingError as error:
        return error_response(409, error.message)


@api_bp.get("/registry")
@admin_panel_required
def api_registry():
    """The registered model's versions with aliases and offline metrics."""
    return modelsettings.registry_versions(_settings().mlflow_uri)


# --- monitoring ---------------------------------------------------------------------------------

@bp.get("/monitoring")
@admin_panel_required
def monitoring_page():
    rows = monitoring.reports()
    return render_template("admin/monitoring.html", rows=rows, alerts=monitoring.drift_alerts(rows))


@bp.get("/monitoring/reports/<name>")
@admin_panel_required
def monitoring_report(name: str):
    path = monitoring.report_file(name)
    if path is None:
        abort(404)
    return send_file(path, mimetype="text/html", max_age=0)


@api_bp.get("/monitoring")
@admin_panel_required
def api_monitoring():
    """The newest Evidently report of each kind with its date and drift verdict."""
    rows = monitoring.reports()
    for row in rows:
        row["created"] = row["created"].isoformat() if row["created"] else None
        row["url"] = url_for("admin.monitoring_report", name=row["file"]) if row["available"] else None
    return {"reports": rows, "drift_detected": any(r["drift"] and r["drift"]["drifted"] for r in rows)}


# --- moderation ---------------------------------------------------------------------------------

def _moderation_data():
    from api.chat import moderation as chat_moderation
    from api.extensions import db
    from api.reviews.service import reported_reviews, review_json
    from api.tables import ReviewReport, User

    import sqlalchemy as sa

    reviews = []
    for review in reported_reviews():
        reasons = [r for (r,) in db.session.execute(sa.select(ReviewReport.reason).where(
            ReviewReport.review_id == review.id).limit(5)).all() if r]
        author = db.session.get(User, review.learner_id)
        mentor = db.session.get(User, review.mentor_id)
        reviews.append({**review_json(review), "reported_count": review.reported_count, "reasons": reasons,
                        "author": author.full_name if author else None, "mentor": mentor.full_name if mentor else None})
    messages = []
    for report, message, room in chat_moderation.open_reports():
        sender = db.session.get(User, message.sender_id)
        messages.append({"report_id": report.id, "message_id": message.id, "body": message.body,
                         "deleted": message.deleted_at is not None, "reason": report.reason,
                         "room_id": room.id, "room": room.name, "room_kind": room.kind,
                         "sender_id": message.sender_id, "sender": sender.full_name if sender else None,
                         "reported_at": report.created_at.isoformat()})
    return reviews, messages


@bp.get("/moderation")
@admin_panel_required
def moderation():
    reviews, messages = _moderation_data()
    return render_template("admin/moderation.html", reviews=reviews, messages=messages, confirm_form=ConfirmForm())


@api_bp.get("/moderation")
@admin_panel_required
def api_moderation():
    """Reported reviews (visible, most reported first) and open message reports."""
    reviews, messages = _moderation_data()
    return {"reviews": reviews, "messages": messages}


@bp.post("/moderation/reviews/<int:review_id>/<action>")
@admin_panel_required
def moderate_review(review_id: int, action: str):
    from api.reviews.service import ReviewError, set_hidden

    if action not in ("hide", "unhide") or not ConfirmForm().validate_on_submit():
        abort(400 if action in ("hide", "unhide") else 404)
    try:
        set_hidden(review_id, current_user._get_current_object(), action == "hide")
    except ReviewError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.moderation"))
    audit.record(f"review.{action}", "review", review_id)
    flash("The review is hidden." if action == "hide" else "The review is visible again.", "success")
    return redirect(url_for("admin.moderation"))


@bp.post("/moderation/messages/<int:message_id>/<action>")
@admin_panel_required
def moderate_message(message_id: int, action: str):
    from api.chat import moderation as chat_moderation
    from api.chat.rooms import ChatError

    if action not in ("delete", "dismiss"):
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    admin = current_user._get_current_object()
    try:
        if action == "delete":
            chat_moderation.delete_message(message_id, admin, request.form.get("reason", ""))
        else:
            chat_moderation.dismiss_reports(message_id, admin)
    except ChatError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.moderation"))
    audit.record(f"message.{action}", "message", message_id)
    flash("The message is deleted for everyone." if action == "delete" else "The reports are dismissed.", "success")
    return redirect(url_for("admin.moderation"))


@bp.post("/moderation/rooms/<int:room_id>/users/<int:user_id>/<action>")
@admin_panel_required
def moderate_user(room_id: int, user_id: int, action: str):
    from api.chat import moderation as chat_moderation
    from api.chat.rooms import ChatError
    from api.extensions import db
    from api.tables import ChatRoom

    if action not in ("mute", "unmute", "ban", "unban"):
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    room = db.session.get(ChatRoom, room_id)
    if room is None:
        abort(404)
    minutes = request.form.get("minutes", type=int)
    try:
        chat_moderation.set_restriction(room, user_id, current_user._get_current_object(), action, minutes=minutes,
                                        reason=request.form.get("reason", ""))
    except ChatError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.moderation"))
    audit.record(f"chat_user.{action}", "user", user_id, room_id=room_id, minutes=minutes if action == "mute" else None)
    flash({"mute": "The user is muted in that room.", "unmute": "The user can write again.",
           "ban": "The user is banned from that room.", "unban": "The ban is lifted."}[action], "success")
    return redirect(url_for("admin.moderation"))
