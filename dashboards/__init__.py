"""Admin analytics: revenue, bookings, mentor performance, A/B results, drift reports."""
