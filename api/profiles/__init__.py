"""Learner and mentor profiles, uploads (pictures, videos, certification documents) and the mentor upgrade."""
from apiflask import APIBlueprint
from flask import Blueprint

bp = Blueprint("profiles", __name__)
api_bp = APIBlueprint("profiles_api", __name__, url_prefix="/api/v1", tag="Profiles")

from api.profiles import api, routes  # noqa: E402,F401
from api.profiles.service import can_see_mentor, visible_mentors_query  # noqa: E402

__all__ = ["api_bp", "bp", "can_see_mentor", "visible_mentors_query"]
