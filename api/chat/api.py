"""The chat JSON API (/api/v1/chat/...): history, unread count, files, reports and moderation. The web chat's
script calls it with the session cookie and the CSRF token; the moderation forms of the reports page post here too."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, request, url_for
from flask_login import current_user

from api.auth.decorators import admin_required, auth_required, verified_required
from api.chat import moderation
from api.chat.events import after_send, broadcast_message, kick_from_room
from api.chat.flood import flood_control_for
from api.chat.queue import NAMESPACE, room_key, user_key
from api.chat.rooms import (
    ChatError,
    check_can_read,
    check_can_send,
    history,
    room_by_slug,
    room_ref,
    serialize_many,
    unread_total,
)
from api.chat.uploads import receive, share
from api.errors import error_response
from api.extensions import db, socketio
from api.redirects import redirect_to_next
from api.settings import current_settings
from api.tables import ChatRoom

api_bp = Blueprint("chat_api", __name__)


def _error(error: ChatError):
    return error_response(error.code, error.message)


@api_bp.get("/api/v1/chat/rooms/<slug>/messages")
@auth_required
def api_history(slug: str):
    """Scroll-back: ?before=<id> for older messages, ?after=<id> for newer ones."""
    room = room_ref(slug)
    try:
        check_can_read(room, current_user)
    except ChatError as error:
        return _error(error)
    before = request.args.get("before", type=int)
    after = request.args.get("after", type=int)
    limit = request.args.get("limit", type=int)
    messages, more = history(room, before_id=before, after_id=after, limit=limit)
    return jsonify(room=room.slug, messages=serialize_many(messages, room), more=more)


@api_bp.get("/api/v1/chat/unread")
@auth_required
def api_unread():
    return jsonify(total=unread_total(current_user.id))


@api_bp.post("/api/v1/chat/rooms/<slug>/attachments")
@verified_required
def api_upload(slug: str):
    """Share a file or a voice message in a one-on-one conversation (multipart: file, voice, duration, body)."""
    settings = current_settings()
    try:
        room = room_ref(slug)
        member = check_can_send(room, current_user)
        upload, voice = _upload_to_share(room, settings)
        stored = receive(settings, upload.stream, upload.filename, voice=voice,
                         duration=request.form.get("duration", type=float))
        body = request.form.get("body", "")
        _message, payload = share(room, current_user, member, stored, body)
    except ChatError as error:
        return _error(error)
    broadcast_message(room, payload, client_id=request.form.get("client_id"))
    after_send(room, payload["id"], body, current_user)
    return jsonify(ok=True, message=payload), 201


def _upload_to_share(room, settings):
    """The request's file and whether it is a voice message, when it may be shared in the room now; ChatError
    otherwise (before the file is read)."""
    if room.kind != "direct":
        raise ChatError("Files and voice messages can be shared in one-on-one conversations.", 403)
    voice = request.form.get("voice") in {"1", "true", "yes"}
    limit = settings.chat_max_voice_bytes if voice else settings.chat_max_file_bytes
    if request.content_length and request.content_length > limit + 64 * 1024:
        raise ChatError("The voice message is too long." if voice
                        else f"The file is too large; the limit is {limit // (1024 * 1024) or 1} MB.", 413)
    upload = request.files.get("file")
    if upload is None:
        raise ChatError("Choose a file to share.")
    if not flood_control_for(settings).allow(current_user.id, settings.chat_flood_messages,
                                             settings.chat_flood_seconds):
        raise ChatError("You are sending messages too fast; wait a few seconds.", 429)
    return upload, voice


def _payload() -> dict:
    return request.get_json(silent=True) or request.form.to_dict()


def _done(result: dict, status: int = 200):
    if request.is_json:
        return jsonify(ok=True, **result), status
    flash("Done.", "success")
    return redirect_to_next(request.form.get("next"), url_for("chat.admin_reports"))


@api_bp.post("/api/v1/chat/messages/<int:message_id>/report")
@verified_required
def api_report(message_id: int):
    try:
        report = moderation.report_message(message_id, current_user, str(_payload().get("reason", "")))
    except ChatError as error:
        return _error(error)
    return jsonify(ok=True, report_id=report.id), 201


@api_bp.post("/api/v1/chat/messages/<int:message_id>/delete")
@admin_required
def api_delete(message_id: int):
    try:
        message = moderation.delete_message(message_id, current_user, str(_payload().get("reason", "")))
    except ChatError as error:
        return _error(error)
    room = db.session.get(ChatRoom, message.room_id)
    socketio.emit("message_deleted", {"room": room.slug, "id": message.id}, to=room_key(room.id), namespace=NAMESPACE)
    return _done({"id": message.id})


@api_bp.post("/api/v1/chat/messages/<int:message_id>/dismiss")
@admin_required
def api_dismiss(message_id: int):
    return _done({"dismissed": moderation.dismiss_reports(message_id, current_user)})


@api_bp.post("/api/v1/chat/rooms/<slug>/moderate")
@admin_required
def api_moderate(slug: str):
    """{"user_id", "action": mute|unmute|ban|unban, "minutes", "reason"}"""
    data = _payload()
    try:
        room = room_by_slug(slug)
        if room is None:
            raise ChatError("No such room.", 404)
        user_id = int(data.get("user_id", 0))
        member = moderation.set_restriction(room, user_id, current_user, str(data.get("action", "")),
                                            minutes=int(data["minutes"]) if data.get("minutes") else None,
                                            reason=str(data.get("reason", "")))
    except (TypeError, ValueError):
        return error_response(400, "Name the user and the action.", {"user_id": "required"})
    except ChatError as error:
        return _error(error)
    action = data.get("action")
    if action == "ban":
        kick_from_room(room, user_id)
    socketio.emit("moderation", {"room": room.slug, "action": action,
                                 "until": member.muted_until.isoformat() if member.muted_until else None},
                  to=user_key(user_id), namespace=NAMESPACE)
    return _done({"user_id": user_id, "action": action, "banned": member.banned,
                  "muted_until": member.muted_until.isoformat() if member.muted_until else None})
