"""The admin panel on a 390 px phone in Chromium: no page scrolls sideways (wide tables scroll in their own box).

Every GET page of the admin blueprint without parameters is visited (so a new page is covered without
touching this test), plus one mentor's page and the two-factor enrolment with its QR code.
Screenshots go to /tmp/shots/admin-phone-*.png.
"""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.browser.test_admin_browser import _seed

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots"
WIDTH = 390
NOT_PAGES = {"admin.revenue_csv", "admin.model_registry", "admin.two_factor"}  # a download, a fragment, the sign-in


def _admin_pages(app) -> list[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if rule.endpoint.startswith("admin.") and "GET" in rule.methods and not rule.arguments
                  and rule.endpoint not in NOT_PAGES)


def _fits(page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"admin-phone-{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide on a {WIDTH} px screen"


def test_every_admin_page_fits_a_390_px_phone(app, live_server, browser, make_user):
    import pyotp

    from api.auth import twofactor

    pending = _seed(app, make_user)
    with app.app_context():
        from api.tables import User
        from api.extensions import db

        admin_id = db.session.query(User.id).filter_by(email="root@example.com").scalar()
        twofactor.reset(admin_id)  # enrol on this phone: the page with the QR code
    context = browser.new_context(viewport={"width": WIDTH, "height": 844}, locale="en-GB", is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(live_server + "/login")
    page.get_by_label("E-mail address").fill("root@example.com")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server + "/admin/2fa")
    qr = page.locator("svg.totp-qr")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150 and box["x"] + box["width"] <= WIDTH  # big enough to scan, inside the screen
    _fits(page, "2fa")
    secret = "".join(page.locator("#totp-secret").inner_text().split())
    page.get_by_label("6-digit code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm and sign in").click()
    page.wait_for_url(live_server + "/admin/mentors")

    pages = _admin_pages(app)
    assert {"/admin/", "/admin/mentors/all", "/admin/revenue", "/admin/analytics", "/admin/models"} <= set(pages)
    for path in pages + [f"/admin/mentors/{pending.id}"]:
        page.goto(live_server + path)
        if path == "/admin/models":
            expect(page.locator("#registry-body")).not_to_contain_text("Loading the registry")
        if path in ("/admin/analytics", "/admin/revenue"):
            expect(page.locator('canvas[data-rendered="1"]').first).to_be_attached()
        _fits(page, path.strip("/").replace("/", "-") or "home")
    # the tabs wrap instead of scrolling: every tab is on the screen
    for tab in page.get_by_role("navigation", name="Admin panel").get_by_role("link").all():
        box = tab.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
    # a wide table scrolls inside its own box
    page.goto(live_server + "/admin/mentors/all")
    scroller = page.locator(".table-scroll").first
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth && getComputedStyle(el).overflowX === 'auto'")
    context.close()
