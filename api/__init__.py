"""MentorHub's Flask app: `create_app()` (in `api.app`) builds it from the settings.

The package imports nothing itself, so that `python -m api.server` can let eventlet patch the standard
library before anything else loads; `from api import create_app` loads the factory on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app  # lazy: eventlet must patch before the app's modules load (api.server)

        return create_app
    raise AttributeError(f"module 'api' has no attribute {name!r}")
