"""Bookings: free slots, the booking state machine, dashboards, calendar sync, iCalendar feed and reminders."""
from api.bookings.api import api_bp
from api.bookings.routes import bp

__all__ = ["api_bp", "bp"]
