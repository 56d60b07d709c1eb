"""Reviews and ratings: learners review completed sessions, mentors reply and rate learners privately,
users report reviews, admins hide them. Rules live in `service`; pages and JSON in `routes`."""
from apiflask import APIBlueprint
from flask import Blueprint

bp = Blueprint("reviews", __name__)
api_bp = APIBlueprint("reviews_api", __name__, url_prefix="/api/v1", tag="Reviews")

from api.reviews import routes  # noqa: E402,F401

__all__ = ["api_bp", "bp"]
