"""Personalised recommendations: GET /api/v1/recommendations, the "Recommended for you" section, click tracking.

The blueprint's registration installs the search blend (`api.search.ranking.set_personal_scorer`) and a
`recommendations_section()` template helper that the learner's home page and the search page call; create_app
wires attribution and the serving caches' hooks. The tier's own servers run `create_app(tier="recommendations")`
(`api.recommendation_server`); `api.benchmarks.serving` is the `mentorhub bench serving` command.
"""
from api.recommendations.api import api_bp
from api.recommendations.routes import bp

__all__ = ["api_bp", "bp"]
