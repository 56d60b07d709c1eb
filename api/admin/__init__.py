"""The admin panel: mentors, analytics and revenue, model settings, A/B tests, monitoring, moderation, audit log.

Every page and API is for admins whose session passed TOTP two-factor sign-in (see guard.py).
"""
from apiflask import APIBlueprint
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
api_bp = APIBlueprint("admin_api", __name__, url_prefix="/api/v1/admin", tag="Admin")


@bp.context_processor
def _panel_context():
    """The drift banner on every admin page (reads the small reports index)."""
    from flask import request

    helpers = {"pct": _pct, "money": _money}
    if request.endpoint == "admin.two_factor":
        return helpers
    from api.admin.monitoring import drift_alerts

    try:
        return {**helpers, "drift_alerts": drift_alerts()}
    except Exception:  # noqa: BLE001 - a broken report file never breaks the panel
        return {**helpers, "drift_alerts": []}


def _pct(value, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def _money(amount_minor, currency: str) -> str:
    from dashboards.revenue import format_minor

    return format_minor(int(amount_minor or 0), currency)


from api.admin import routes  # noqa: E402,F401
from api.admin import mentor_views, ops_views, report_views  # noqa: E402,F401
from api.admin import experiment_views  # noqa: E402,F401

__all__ = ["api_bp", "bp"]
