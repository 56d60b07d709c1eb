"""Chat: public rooms per topic, one-on-one learner-mentor conversations, files and voice messages.

Pages are in `routes`, the JSON API in `api`, Socket.IO handlers (namespace /chat) in `events`, the rules in `rooms`.
"""
from api.chat.api import api_bp
from api.chat.routes import bp

__all__ = ["api_bp", "bp"]
