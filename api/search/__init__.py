"""Mentor discovery: the search page and API, the profile preview, and the one query layer (FTS5 / tsvector).

Pages: GET /mentors (search), GET /mentors/<id>/preview. API: GET /api/v1/mentors,
GET /api/v1/mentors/<id>/preview, GET /api/v1/mentors/<id>/reviews. `api.benchmarks.search` is the
`mentorhub bench search` command.
"""
from apiflask import APIBlueprint
from flask import Blueprint

bp = Blueprint("search", __name__)
api_bp = APIBlueprint("search_api", __name__, url_prefix="/api/v1", tag="Search")

from api.search import routes  # noqa: E402,F401

__all__ = ["api_bp", "bp"]
