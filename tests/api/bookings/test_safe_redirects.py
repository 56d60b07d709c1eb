"""Every `next` parameter leads only to a path of this site (issue 17, item 11)."""
from __future__ import annotations

import pytest

from api.redirects import safe_next
from tests.api.bookings.test_feed_reminders_pages import accepted  # noqa: F401  (fixture)

HOSTILE = ["https://evil.example/", "javascript:alert(1)", "//evil.example", "/%09/evil.example", "/\t/evil.example",
           "/\\evil.example", "\\\\evil.example", "http:/evil.example", " https://evil.example", "/\r\n/evil.example",
           "JaVaScRiPt:alert(1)", "data:text/html,hi"]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_are_refused(target):
    from urllib.parse import unquote

    assert safe_next(target) is None
    assert safe_next(unquote(target)) is None


def test_paths_of_this_site_are_kept():
    assert safe_next("/bookings/7?tab=past#top") == "/bookings/7?tab=past#top"
    assert safe_next("/") == "/"
    assert safe_next("") is None and safe_next(None) is None


@pytest.mark.db
@pytest.mark.parametrize("target", ["https://evil.example/", "javascript:alert(1)", "/\t/evil.example"])
def test_a_booking_action_never_redirects_off_site(app, clock, accepted, mentor, as_user, target):  # noqa: F811
    response = as_user(mentor).form(f"/bookings/{accepted['id']}/cancel", {"reason": "ill", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] in ("/bookings/", "http://localhost/bookings/")


def test_a_same_site_next_is_followed(app, clock, accepted, mentor, as_user):  # noqa: F811
    response = as_user(mentor).form(f"/bookings/{accepted['id']}/cancel", {"reason": "ill", "next": "/bookings/?x=1"})
    assert response.headers["Location"].endswith("/bookings/?x=1")
