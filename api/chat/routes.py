"""Chat pages (/chat/...): rooms, one-on-one conversations, shared files, the reported-messages page."""
from __future__ import annotations

from functools import partial

from flask import Blueprint, abort, g, redirect, render_template, send_file, url_for
from flask_login import current_user

from api.auth.accounts import is_verified, sessions_ended
from api.auth.decorators import admin_required, auth_required, verified_required
from api.chat import moderation
from api.chat.events import end_sockets
from api.chat.recovery import recover
from api.chat.rooms import (
    ChatError,
    check_can_read,
    direct_rooms,
    direct_slug,
    ensure_public_rooms,
    legacy_topic_room,
    may_start_direct,
    membership,
    open_direct_room,
    room_by_slug,
    room_title,
    unread_total,
)
from api.chat.uploads import shared_file
from api.errors import error_response
from api.extensions import db, socketio
from api.settings import current_settings
from api.tables import Role, User

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
