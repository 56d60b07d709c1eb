"""The admin panel; for now the mentor approval queue (the admin panel issue builds the rest)."""
from apiflask import APIBlueprint
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
api_bp = APIBlueprint("admin_api", __name__, url_prefix="/api/v1/admin", tag="Admin")

from api.admin import routes  # noqa: E402,F401

__all__ = ["api_bp", "bp"]
