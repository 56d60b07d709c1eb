"""In Chromium: a learner signs up, verifies the e-mail from the outbox and completes the profile with a picture;
a mentor signs up, waits in the queue and is approved by an admin."""
from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from api.notify import read_outbox
from tests.api.profiles.profile_helpers import png_bytes
from tests.conftest import make_settings

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("MENTORHUB_SHOTS_DIR", "")  # set to save screenshots of the main pages


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, argon2_time_cost=1, argon2_memory_cost_kib=1024,
                         argon2_parallelism=1)


def _shot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _link(settings, kind: str, to: str) -> str:
    mail = [m for m in read_outbox(settings.outbox_path) if m.get("kind") == kind and m["to"] == to][-1]
    return re.search(r"https?://\S+", mail["body"]).group(0)


def _sign_up(page, base: str, choice: str, name: str, email: str) -> None:
    page.goto(base + "/")
    _shot(page, "landing") if choice == "Learn" else None
    page.get_by_role("link", name=re.compile(f"^{choice}")).click()
    page.get_by_label("Full name").fill(name)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Mobile phone (with country code)").fill("+44 7700 900123")
    page.get_by_label("Password").fill("correct horse battery staple")
    _shot(page, f"signup-{choice.lower()}")
    page.get_by_role("button", name=re.compile("Create")).click()
    page.wait_for_url(base + "/login")  # no session yet: the same answer whether or not the address is taken
    expect(page.get_by_text(f"we have sent a message to {email}")).to_be_visible()


def test_learner_and_mentor_journeys(app, live_server, page, browser, settings, make_user, topics, tmp_path):
    base = live_server
    # a learner signs up and verifies the e-mail address from the outbox
    _sign_up(page, base, "Learn", "Ana Lovelace", "ana@example.com")
    _shot(page, "verify")
    page.goto(_link(settings, "verify_email", "ana@example.com"))
    page.get_by_role("button", name="Confirm my e-mail address").click()
    page.wait_for_url(base + "/profile")
    expect(page.get_by_text("your e-mail address is verified")).to_be_visible()

    # ... and completes the profile, with a picture
    page.get_by_label("Time zone").select_option("Europe/London")
    page.get_by_label("Python").check()
    page.get_by_label("Statistics").check()
    page.get_by_label("What would you like to learn?").fill("Data analysis for my small business")
    page.get_by_label("Day, row 1").select_option("Saturday")
    page.get_by_label("From, row 1").fill("10:00")
    page.get_by_label("To, row 1").fill("12:00")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    picture = tmp_path / "ana.png"
    picture.write_bytes(png_bytes(900, 900, (30, 110, 190)))
    page.get_by_label("Profile picture").set_input_files(str(picture))
    page.get_by_role("button", name="Upload picture").click()
    expect(page.get_by_text("Your picture is updated.")).to_be_visible()
    avatar = page.get_by_role("img", name="Picture of Ana Lovelace").first
    assert avatar.evaluate("img => img.complete && img.naturalWidth") == 512
    assert page.get_by_label("Python").is_checked()
    _shot(page, "learner-profile")

    # a mentor signs up, fills in the mentor profile and waits in the queue
    mentor_context = browser.new_context(viewport={"width": 1280, "height": 900})
    mentor = mentor_context.new_page()
    _sign_up(mentor, base, "Teach", "Mara Mentor", "mara@example.com")
    mentor.goto(_link(settings, "verify_email", "mara@example.com"))  # the link logs in
    mentor.get_by_role("button", name="Confirm my e-mail address").click()
    mentor.wait_for_url(base + "/mentor/profile")
    mentor.get_by_label("Headline").fill("Statistician, 12 years in public health")
    mentor.get_by_label("Statistics").check()
    mentor.get_by_label("Price per session").fill("40")
    mentor.get_by_label("Currency").select_option("GBP")
    mentor.get_by_label("Day, row 1").select_option("Tuesday")
    mentor.get_by_label("From, row 1").fill("18:00")
    mentor.get_by_label("To, row 1").fill("20:00")
    mentor.get_by_role("button", name="Submit for review").click()
    expect(mentor.get_by_text("Waiting for review")).to_be_visible()
    _shot(mentor, "mentor-profile-pending")
    mentor_id = int(mentor.evaluate("fetch('/api/v1/auth/me').then(r => r.json()).then(u => u.id)"))
    assert page.goto(f"{base}/mentors/{mentor_id}").status == 404  # invisible to learners

    # an admin approves the mentor
    from tests.api.admin.admin_helpers import code, enrol

    root = make_user("root@example.com", roles=("admin",), full_name="Ada Admin")
    enrol(app, root.id)  # admins sign in with password, then a TOTP code
    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = admin_context.new_page()
    admin.goto(base + "/login")
    admin.get_by_label("E-mail address").fill("root@example.com")
    admin.get_by_label("Password").fill("correct horse battery staple")
    admin.get_by_role("button", name="Log in").click()
    admin.wait_for_url(base + "/admin/2fa")
    admin.get_by_label("6-digit code from your authenticator app").fill(code())
    admin.get_by_role("button", name="Verify and sign in").click()
    admin.wait_for_url(base + "/admin/mentors")
    expect(admin.get_by_role("heading", name="Mara Mentor")).to_be_visible()
    _shot(admin, "admin-queue")
    admin.get_by_role("button", name="Approve Mara Mentor").click()
    expect(admin.get_by_text("Mara Mentor is approved")).to_be_visible()

    mentor.reload()
    assert mentor.locator("#mentor-status").inner_text() == "Approved"
    assert page.goto(f"{base}/mentors/{mentor_id}").status == 200
    expect(page.get_by_role("heading", name="Mara Mentor")).to_be_visible()
    assert any(m["kind"] == "mentor_review" and m["to"] == "mara@example.com"
               for m in read_outbox(settings.outbox_path))
    if SHOTS:
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(base + "/profile")
        _shot(page, "learner-profile-mobile")
    mentor_context.close()
    admin_context.close()
