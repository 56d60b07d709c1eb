"""The admin panel: mentors, analytics and revenue, model settings, A/B tests, monitoring, moderation, audit log.

Pages on `bp` (api.admin.routes), JSON on `api_bp` (api.admin.api); the other view modules add the pages and
JSON of one topic each to both. Every view but the two-factor code step is for admins whose session passed TOTP
two-factor sign-in (`api.auth.decorators.admin_required`).
"""
from api.admin import experiment_views, mentor_views, ops_views, report_views  # noqa: F401 - views join bp, api_bp
from api.admin.api import api_bp
from api.admin.routes import bp

__all__ = ["api_bp", "bp"]
