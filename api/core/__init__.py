"""The landing page and the health check."""
from api.core.routes import bp

__all__ = ["bp"]
