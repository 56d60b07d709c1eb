"""Personalised recommendations: GET /api/v1/recommendations, the "Recommended for you" section, click tracking.

The blueprint's registration installs the search blend (`api.search.ranking.set_personal_scorer`) and a
`recommendations_section()` template helper for the learner's home page and the search page; create_app
wires attribution and the serving caches' hooks. `api.benchmarks.serving` is the `mentorhub bench serving` command.
"""
from apiflask import APIBlueprint
from flask import Blueprint

bp = Blueprint("recommendations", __name__)
api_bp = APIBlueprint("recommendations_api", __name__, url_prefix="/api/v1", tag="Recommendations")

from api.recommendations import routes  # noqa: E402,F401

__all__ = ["api_bp", "bp"]
