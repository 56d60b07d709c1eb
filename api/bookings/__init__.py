"""Bookings: free slots, the booking state machine, dashboards, calendar sync, iCalendar feed and reminders."""
from apiflask import APIBlueprint

bp = APIBlueprint("bookings", __name__, tag="Bookings")

from api.bookings import api, routes  # noqa: E402,F401
