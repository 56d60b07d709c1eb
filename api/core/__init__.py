"""The landing page and the health check."""
from flask import Blueprint

bp = Blueprint("core", __name__)

from api.core import routes  # noqa: E402,F401
