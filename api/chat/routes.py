"""Chat pages (/chat/...) and the chat JSON API (/api/v1/chat/...): history, files, reports, moderation."""
from __future__ import annotations

from functools import partial

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from api.auth.accounts import is_verified, sessions_ended
from api.auth.decorators import admin_required, auth_required, verified_required
from api.chat import moderation
from api.chat.events import after_send, broadcast_message, end_sockets, kick_from_room
from api.chat.flood import flood_control_for
from api.chat.queue import NAMESPACE, room_key, user_key
from api.chat.recovery import recover
from api.chat.rooms import (
    ChatError,
    check_can_read,
    check_can_send,
    direct_rooms,
    direct_slug,
    ensure_public_rooms,
    history,
    legacy_topic_room,
    may_start_direct,
    membership,
    open_direct_room,
    room_by_slug,
    room_ref,
    room_title,
    serialize_many,
    unread_total,
)
from api.chat.uploads import receive, share, shared_file
from api.errors import error_response
from api.extensions import db, socketio
from api.redirects import redirect_to_next
from api.settings import current_settings
from api.tables import ChatRoom, Role, User

bp = Blueprint("chat", __name__)


@bp.record_once
def _check_origins(state) -> None:
    """Socket connections carry the session cookie, so any origin must never be allowed."""
    settings = state.app.config["MENTORHUB_SETTINGS"]
    if "*" in settings.cors_allowed_origins:
        raise RuntimeError("CORS_ALLOWED_ORIGINS must list the site's origins; '*' would let any site use "
                           "a visitor's chat session")


@bp.record_once
def _wire_client_manager(state) -> None:
    """The app's client manager closes ended sessions' sockets and, after a queue outage, resends what was missed."""
    manager = socketio.server.manager if socketio.server is not None else None
    if manager is not None and hasattr(manager, "on_queue_back"):
        manager.on_queue_back = partial(recover, state.app)
    sessions_ended.connect(end_sockets)


@bp.app_context_processor
def _chat_unread():
    def chat_unread() -> int:
        if not current_user.is_authenticated:
            return 0
        try:
            return unread_total(current_user.id)
        except Exception:  # the navigation bar must render even when the count cannot be had
            return 0

    return {"chat_unread": chat_unread}


def _error(error: ChatError):
    return error_response(error.code, error.message)


# -- pages --------------------------------------------------------------------------------------


@bp.get("/chat/")
@auth_required
def index():
    return redirect(url_for("chat.room", slug="general"))


@bp.get("/chat/rooms/<slug>")
@auth_required
def room(slug: str):
    public_rooms = ensure_public_rooms()  # first: it may merge a topic's duplicate rooms
    room = room_by_slug(slug)
    if room is None and (legacy := legacy_topic_room(slug)) is not None:
        return redirect(url_for("chat.room", slug=legacy.slug), 301)
    try:
        check_can_read(room, current_user)
    except ChatError as error:
        return _error(error)
    settings = current_settings()
    return render_template(
        "chat/room.html",
        room=room,
        title=room_title(room, current_user),
        public_rooms=public_rooms,
        conversations=direct_rooms(current_user),
        can_send=is_verified(current_user),
        is_admin=current_user.has_role(Role.ADMIN),
        max_voice_seconds=settings.chat_max_voice_seconds,
        max_file_mb=max(1, settings.chat_max_file_bytes // (1024 * 1024)),
    )


@bp.route("/chat/with/<int:user_id>", methods=["GET", "POST"])
@verified_required
def with_user(user_id: int):
    """Open (or start) the one-on-one conversation with a mentor or learner (the Message buttons POST here)."""
    other = db.session.get(User, user_id)
    if other is None or not other.is_active:
        return error_response(404, "No such person.")
    try:
        room = open_direct_room(current_user, other)
    except ChatError as error:
        return _error(error)
    return redirect(url_for("chat.room", slug=room.slug))


@bp.app_template_global()
def chat_contact(user_id: int) -> str | None:
    """What a Message button to this person does for the viewer: "open" the conversation, "login" first, or
    "locked" (no booking yet and the mentor takes no questions before one); None for oneself or nobody."""
    if not current_user.is_authenticated:
        return "login"
    if user_id == current_user.id:
        return None
    known = g.setdefault("chat_contact", {})  # a dashboard asks once per row, often about the same person
    if user_id not in known:
        other = db.session.get(User, user_id)
        room = room_by_slug(direct_slug(current_user.id, user_id)) if other is not None else None
        if other is None or not other.is_active:
            known[user_id] = None
        elif room is not None and membership(room, current_user.id) is not None:
            known[user_id] = "open"
        else:
            known[user_id] = "open" if may_start_direct(current_user, other) else "locked"
    return known[user_id]


@bp.get("/chat/files/<int:attachment_id>")
@auth_required
def download(attachment_id: int):
    """A shared file, only for the participants of its conversation; never sniffed or run by the browser."""
    found = shared_file(current_settings(), attachment_id, current_user.id)
    if found is None:
        abort(404)  # the same answer for a file that does not exist and one the viewer may not have
    attachment, path = found
    inline = attachment.kind in {"image", "voice"} or attachment.content_type.startswith(("audio/", "application/pdf"))
    response = send_file(path, mimetype=attachment.content_type, as_attachment=not inline,
                         download_name=attachment.original_name, conditional=True, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@bp.get("/chat/admin")
@admin_required
def admin_reports():
    return render_template("chat/admin.html", reports=moderation.open_reports())


# -- JSON API -----------------------------------------------------------------------------------


@bp.get("/api/v1/chat/rooms/<slug>/messages")
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


@bp.get("/api/v1/chat/unread")
@auth_required
def api_unread():
    return jsonify(total=unread_total(current_user.id))


@bp.post("/api/v1/chat/rooms/<slug>/attachments")
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


@bp.post("/api/v1/chat/messages/<int:message_id>/report")
@verified_required
def api_report(message_id: int):
    try:
        report = moderation.report_message(message_id, current_user, str(_payload().get("reason", "")))
    except ChatError as error:
        return _error(error)
    return jsonify(ok=True, report_id=report.id), 201


@bp.post("/api/v1/chat/messages/<int:message_id>/delete")
@admin_required
def api_delete(message_id: int):
    try:
        message = moderation.delete_message(message_id, current_user, str(_payload().get("reason", "")))
    except ChatError as error:
        return _error(error)
    room = db.session.get(ChatRoom, message.room_id)
    socketio.emit("message_deleted", {"room": room.slug, "id": message.id}, to=room_key(room.id), namespace=NAMESPACE)
    return _done({"id": message.id})


@bp.post("/api/v1/chat/messages/<int:message_id>/dismiss")
@admin_required
def api_dismiss(message_id: int):
    return _done({"dismissed": moderation.dismiss_reports(message_id, current_user)})


@bp.post("/api/v1/chat/rooms/<slug>/moderate")
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
