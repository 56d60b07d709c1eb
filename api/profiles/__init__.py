"""Learner and mentor profiles, uploads (pictures, videos, certification documents) and the mentor upgrade.

Pages are in `routes`, the JSON API in `api`, the rules and their transactions in `service`."""
from api.profiles.api import api_bp
from api.profiles.routes import bp
from api.profiles.service import can_see_mentor, visible_mentors_query

__all__ = ["api_bp", "bp", "can_see_mentor", "visible_mentors_query"]
