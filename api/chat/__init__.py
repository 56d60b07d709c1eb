"""Chat: public rooms per topic, one-on-one learner-mentor conversations, files and voice messages.

Pages and the JSON API are in `routes`, Socket.IO handlers (namespace /chat) in `events`.
"""
from flask import Blueprint

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
    from functools import partial

    from api.auth.accounts import sessions_ended
    from api.chat.events import end_sockets
    from api.chat.recovery import recover
    from api.extensions import socketio

    manager = socketio.server.manager if socketio.server is not None else None
    if manager is not None and hasattr(manager, "on_queue_back"):
        manager.on_queue_back = partial(recover, state.app)
    sessions_ended.connect(end_sockets)


@bp.app_context_processor
def _chat_unread():
    def chat_unread() -> int:
        from flask_login import current_user

        from api.chat.rooms import unread_total

        if not current_user.is_authenticated:
            return 0
        try:
            return unread_total(current_user.id)
        except Exception:  # the navigation bar must render even when the count cannot be had
            return 0

    return {"chat_unread": chat_unread}


from api.chat import events, routes  # noqa: E402,F401
