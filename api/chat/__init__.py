"""Chat: public rooms per topic, one-on-one learner-mentor conversations, files and voice messages.

Pages and the JSON API are in `routes`, Socket.IO handlers (namespace /chat) in `events`, the rules in `rooms`.
"""
from api.chat.routes import bp

__all__ = ["bp"]
