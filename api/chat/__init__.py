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
