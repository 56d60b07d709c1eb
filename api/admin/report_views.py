"""Platform analytics and revenue: pages with charts, JSON, and the revenue CSV."""
from __future__ import annotations

from flask import Response, render_template, request

from api.admin import data, reports
from api.admin.api import api_bp
from api.admin.routes import bp
from api.auth.decorators import admin_required
from api.settings import current_settings
from dashboards.revenue import format_minor


def _filters():
    return data.parse_filters(request.args, current_settings().admin_report_days)


@bp.get("/analytics")
@admin_required
def analytics():
    filters = _filters()
    return render_template("admin/analytics.html", report=reports.analytics(filters), filters=filters,
                           topics=data.topics())


@bp.get("/revenue")
@admin_required
def revenue():
    filters = _filters()
    return render_template("admin/revenue.html", report=reports.revenue(filters), filters=filters,
                           topics=data.topics(), money=format_minor)


@bp.get("/revenue.csv")
@admin_required
def revenue_csv():
    filters = _filters()
    name = f"mentorhub-revenue-{filters.start.isoformat()}-{filters.end.isoformat()}-{filters.period}.csv"
    return Response(reports.revenue_csv(filters), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@api_bp.get("/analytics")
@admin_required
def api_analytics():
    """Sign-ups by role, verification rate, funnel, retention cohorts and chat activity (start, end, topic, period)."""
    return reports.analytics(_filters())


@api_bp.get("/revenue")
@admin_required
def api_revenue():
    """Gross, platform fees, mentor earnings, refunds and net in minor units: totals, by period and by topic, per currency."""
    return reports.revenue(_filters())


@api_bp.get("/revenue.csv")
@admin_required
def api_revenue_csv():
    """The revenue report as CSV (major units, exact decimals)."""
    return revenue_csv()
