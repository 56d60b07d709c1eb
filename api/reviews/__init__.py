"""Reviews and ratings: learners review completed sessions, mentors reply and rate learners privately,
users report reviews, admins hide them. Rules live in `service`; pages in `routes`, JSON in `api`."""
from api.reviews.api import api_bp
from api.reviews.routes import bp

__all__ = ["api_bp", "bp"]
