"""Mentor discovery: the search page and API, the profile preview, and the one query layer (FTS5 / tsvector).

Pages (`routes`): GET /mentors (search), GET /mentors/<id>/preview. API (`api`): GET /api/v1/mentors,
GET /api/v1/mentors/<id>/preview, GET /api/v1/mentors/<id>/reviews. `service` runs and logs them; `query` is
the query layer; `free_slots` and `ranking_columns` keep the search's derived columns and index current.
`api.benchmarks.search` is the `mentorhub bench search` command.
"""
from api.search.api import api_bp
from api.search.routes import bp

__all__ = ["api_bp", "bp"]
