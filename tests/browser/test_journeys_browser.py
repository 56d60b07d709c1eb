"""Whole journeys in Chromium, one story per role, in one continuous world with no shortcut through the database.

The app is served over real HTTP (Socket.IO included, same-origin rule, no origins configured) on a free port
other than 5000, with the periodic-jobs scheduler running inside it. Only the product's clock is fixed; e-mail
links and SMS codes are read from the outbox file, as a person reads their mail and texts.

- mentor: signs up, verifies e-mail and phone, fills the mentor profile (topics, price, languages, weekly hours,
  time zone) and submits it for review;
- admin (the one seeded account besides topics): logs in, enrols in two-factor with the page's setup key,
  approves the mentor from the queue;
- learner: signs up, verifies, fills the profile, searches and finds the new mentor, opens the profile, books a
  slot and pays in the sandbox; the mentor finds the request from the navigation's count and accepts; both
  exchange messages opened from the Message buttons, with a file; the scheduler completes the session once the
  clock passes its end; the learner rates it from "Rate this session"; the rating shows on the public profile.

Screenshots go to MENTORHUB_SHOTS_DIR (or the test's temporary folder).
"""
from __future__ import annotations

import os
import re
import threading
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect

from api.benchmarks.common import free_port
from api.notify import read_outbox
from tests.conftest import eventually, make_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.db]

PASSWORD = "correct horse battery staple"
MENTOR = {"name": "Mara Mentor", "email": "mara@example.com", "phone": "+44 7700 900456"}
LEARNER = {"name": "Lina Learner", "email": "lina@example.com", "phone": "+44 7700 900123"}
ADMIN = {"name": "Ada Admin", "email": "root@example.com"}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


# --- the world: settings, topics, the served app with its scheduler ----------------------------------------

@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, argon2_time_cost=1, argon2_memory_cost_kib=1024,
                         argon2_parallelism=1, jobs_interval_seconds=1)


@pytest.fixture
def served(app):
    """The app over real HTTP on a free port (never 5000) in a thread, and the periodic jobs' scheduler in it."""
    from werkzeug.serving import make_server

    from api.addresses import served_url
    from api.scheduler import start_scheduler

    port = free_port()
    assert port != 5000
    app.config["SERVED_URL"] = served_url("127.0.0.1", port)  # as `mentorhub serve` does (links made off-request)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheduler = start_scheduler(app)
    assert scheduler is not None
    yield f"http://127.0.0.1:{port}", scheduler
    scheduler.stop()
    server.shutdown()
    thread.join(timeout=5)


class Shots:
    """Full-page screenshots, numbered in the order of the story."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Page, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"journey-{self.count:02d}-{name}.png"), full_page=True)


@pytest.fixture
def shots(tmp_path, db_backend) -> Shots:
    folder = os.environ.get("MENTORHUB_SHOTS_DIR")
    return Shots(Path(folder) / db_backend if folder else tmp_path / "shots")


# --- reading one's mail and texts ---------------------------------------------------------------------------

def mail_link(settings, kind: str, to: str) -> str:
    """The first link of the newest e-mail of `kind` to `to`."""
    mails = [m for m in read_outbox(settings.outbox_path) if m.get("kind") == kind and m["to"] == to]
    assert mails, f"no {kind} e-mail to {to}"
    return re.search(r"https?://\S+", mails[-1]["body"]).group(0)


def sms_code(settings, phone: str) -> str:
    """The code in the newest text to `phone`."""
    number = phone.replace(" ", "")
    texts = [m for m in read_outbox(settings.outbox_path) if m.get("channel") == "sms" and m["to"] == number]
    assert texts, f"no text to {phone}"
    return re.search(r"\b(\d{6})\b", texts[-1]["body"]).group(1)


# --- steps shared by the stories ----------------------------------------------------------------------------

PROBLEMS: list[str] = []  # server errors and uncaught script errors any page met (the test fails on any)


def new_page(browser, viewport=DESKTOP) -> Page:
    """A person's own browser; a 5xx response or an uncaught script error on any of its pages is recorded."""
    context = browser.new_context(viewport=viewport, locale="en-GB")
    page = context.new_page()
    page.on("response", lambda r: PROBLEMS.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    page.on("pageerror", lambda error: PROBLEMS.append(f"script error on {page.url}: {error}"))
    return page


def sign_up(page: Page, base: str, choice: str, person: dict) -> None:
    """From the landing page's "Learn" or "Teach" link through the sign-up form: no session yet, a mail to open
    (the same answer whether or not the address is registered)."""
    page.goto(base + "/")
    page.get_by_role("link", name=re.compile(f"^{choice}")).click()
    page.get_by_label("Full name").fill(person["name"])
    page.get_by_label("E-mail address").fill(person["email"])
    page.get_by_label("Mobile phone (with country code)").fill(person["phone"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Create")).click()
    page.wait_for_url(base + "/login")
    expect(page.get_by_text(f"we have sent a message to {person['email']}")).to_be_visible()


def verify_email_and_phone(page: Page, settings, person: dict) -> None:
    """The e-mail link from the outbox (it logs in); then, from the profile's "verify it" link, the texted code."""
    page.goto(mail_link(settings, "verify_email", person["email"]))
    page.get_by_role("button", name="Confirm my e-mail address").click()
    expect(page.get_by_text("your e-mail address is verified")).to_be_visible()
    page.get_by_role("link", name="verify it").click()  # the profile says the phone is still to verify
    page.get_by_label("6-digit code").fill(sms_code(settings, person["phone"]))
    page.get_by_role("button", name="Verify phone").click()
    expect(page.get_by_text("your phone number is verified")).to_be_visible()
    expect(page.get_by_text("Your account is verified.")).to_be_visible()


def open_chat_connected(page: Page, own_name: str) -> None:
    """The one-on-one room is open and its socket joined (the sender is listed online)."""
    page.wait_for_url(re.compile(r"/chat/rooms/dm-\d+-\d+$"))
    expect(page.locator("#chat-online")).to_contain_text(own_name)


def send_chat_message(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".chat-message.mine", has_text=text)).to_be_visible()
    expect(page.locator("#chat-status")).to_have_text("")


# --- the mentor's story -------------------------------------------------------------------------------------

def mentor_signs_up_and_verifies(mentor: Page, base: str, settings) -> None:
    sign_up(mentor, base, "Teach", MENTOR)
    verify_email_and_phone(mentor, settings, MENTOR)
    mentor.get_by_role("link", name="Continue to your profile").click()
    expect(mentor.get_by_role("heading", name="Become a mentor")).to_be_visible()


def mentor_fills_profile_and_submits(mentor: Page, shots: Shots) -> None:
    mentor.get_by_label("Time zone").select_option("Europe/London")
    mentor.get_by_label("Headline").fill("Statistician, 12 years in public health")
    mentor.get_by_label("About you").fill("I help analysts move from spreadsheets to reproducible statistics.")
    mentor.get_by_label("Statistics").check()
    mentor.get_by_label("Python").check()
    mentor.get_by_label("English").check()
    mentor.get_by_label("Spanish", exact=True).last.check()  # the language (the topic "Spanish" comes first)
    mentor.get_by_label("Price per session").fill("40")
    mentor.get_by_label("Your currency").select_option("GBP")
    mentor.get_by_label("Years of experience").fill("12")
    mentor.get_by_label("Day, row 1").select_option("Tuesday")
    mentor.get_by_label("From, row 1").fill("18:00")
    mentor.get_by_label("To, row 1").fill("20:00")
    shots(mentor, "mentor-profile-filled")
    mentor.get_by_role("button", name="Submit for review").click()
    expect(mentor.locator("#mentor-status")).to_have_text("Waiting for review")
    shots(mentor, "mentor-waiting-for-review")


# --- the admin's story --------------------------------------------------------------------------------------

def admin_logs_in_with_two_factor(admin: Page, base: str, shots: Shots) -> None:
    """Password, then first-time enrolment: the setup key shown on the page goes into an authenticator (pyotp)."""
    admin.goto(base + "/")
    admin.get_by_role("link", name="Log in").click()
    admin.get_by_label("E-mail address").fill(ADMIN["email"])
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_role("button", name="Log in", exact=True).click()
    expect(admin.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    shots(admin, "admin-two-factor-setup")
    setup_key = admin.get_by_label("Setup key").inner_text().replace(" ", "").replace("\n", "")
    admin.get_by_label("6-digit code from your authenticator app").fill(pyotp.TOTP(setup_key).now())
    admin.get_by_role("button", name="Confirm and sign in").click()
    expect(admin.get_by_text("Signed in with two-factor authentication.")).to_be_visible()


def admin_approves_mentor_from_queue(admin: Page, shots: Shots) -> None:
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Approval queue").click()
    expect(admin.get_by_role("heading", name=MENTOR["name"])).to_be_visible()
    shots(admin, "admin-queue")
    admin.get_by_role("button", name=f"Approve {MENTOR['name']}").click()
    expect(admin.get_by_text(f"{MENTOR['name']} is approved")).to_be_visible()


def mentor_sees_approval(mentor: Page, settings) -> None:
    """The approval e-mail's link leads to the public page, with the mentor's details."""
    mentor.goto(mail_link(settings, "mentor_review", MENTOR["email"]))
    expect(mentor.get_by_role("heading", name=MENTOR["name"])).to_be_visible()
    expect(mentor.get_by_text("Speaks English, Spanish")).to_be_visible()


# --- the learner's story ------------------------------------------------------------------------------------

def learner_signs_up_and_verifies(learner: Page, base: str, settings) -> None:
    sign_up(learner, base, "Learn", LEARNER)
    verify_email_and_phone(learner, settings, LEARNER)
    learner.get_by_role("link", name="Continue to your profile").click()
    expect(learner.get_by_role("heading", name="Your learner profile")).to_be_visible()


def learner_fills_profile(learner: Page) -> None:
    learner.get_by_label("Time zone").select_option("Europe/Berlin")
    learner.get_by_label("Your currency").select_option("EUR")
    learner.get_by_label("Statistics").check()
    learner.get_by_label("What would you like to learn?").fill("Statistics for my survey data, in Spanish")
    learner.get_by_label("Day, row 1").select_option("Tuesday")
    learner.get_by_label("From, row 1").fill("18:00")
    learner.get_by_label("To, row 1").fill("21:00")
    learner.get_by_role("button", name="Save profile").click()
    expect(learner.get_by_text("Your profile is saved.")).to_be_visible()


def learner_searches_and_opens_mentor(learner: Page, shots: Shots) -> str:
    """From "Find a mentor": a word and the Spanish language filter find the new mentor; returns the price shown."""
    learner.get_by_role("link", name="Find a mentor").click()
    learner.locator("#q").fill("statistics")
    filters = learner.locator("details.filters")
    if not filters.evaluate("d => d.open"):
        filters.locator("summary").click()
    learner.get_by_label("Language").select_option(label="Spanish")
    learner.get_by_role("button", name="Search", exact=True).click()
    card = learner.get_by_role("region", name="Results").locator(".mentor-card", has_text=MENTOR["name"])
    result = card.get_by_role("link", name=MENTOR["name"], exact=True)
    expect(result).to_be_visible()
    shots(learner, "learner-search")
    price = card.locator(".price strong").inner_text()
    assert price.startswith("€")  # the learner's own currency
    result.click()
    expect(learner.get_by_role("heading", name=MENTOR["name"])).to_be_visible()
    expect(learner.locator(".preview-book .price strong")).to_have_text(price)
    shots(learner, "learner-mentor-profile")
    return price


def learner_books_a_slot(learner: Page) -> None:
    """Tuesday 18:00 in London is 19:00 in Berlin, where the learner lives."""
    learner.get_by_test_id("book-button").click()
    expect(learner.get_by_text("your time zone, Europe/Berlin")).to_be_visible()
    learner.get_by_label(re.compile("19:00–20:00")).first.check()
    learner.get_by_label(f"A note for {MENTOR['name']}").fill("I would like help with a survey's weighting.")
    learner.get_by_role("button", name="Request this session").click()


def learner_pays_in_sandbox(learner: Page, price: str, shots: Shots) -> None:
    expect(learner.get_by_test_id("sandbox-banner")).to_be_visible()
    expect(learner.get_by_test_id("pay-amount")).to_have_text(price)  # one amount for one price
    shots(learner, "learner-checkout")
    learner.get_by_label("Test card number").fill("4242 4242 4242 4242")
    learner.get_by_test_id("pay-button").click()
    expect(learner.get_by_test_id("payment-status")).to_contain_text("held")
    shots(learner, "learner-receipt-held")


def mentor_accepts_from_navigation(mentor: Page, shots: Shots) -> None:
    """On a phone: the navigation shows one request waiting; "My sessions" lists it with Accept."""
    mentor.set_viewport_size(PHONE)
    mentor.get_by_role("link", name="Mentor profile").click()  # any page: the count is in the navigation
    sessions = mentor.get_by_test_id("nav-sessions")
    expect(sessions.get_by_label("1 request waiting for your answer")).to_be_visible()
    shots(mentor, "mentor-nav-one-request-390")
    assert mentor.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    sessions.click()
    requests = mentor.get_by_test_id("mentor-requests")
    expect(requests).to_contain_text(LEARNER["name"])
    expect(requests).to_contain_text("Tue 3 Mar 2026, 18:00–19:00 GMT")
    expect(requests).to_contain_text("survey's weighting")
    shots(mentor, "mentor-requests-390")
    requests.get_by_role("button", name="Accept").click()
    expect(mentor.get_by_test_id("mentor-upcoming")).to_contain_text("accepted")
    expect(sessions.locator(".badge-count")).to_have_count(0)
    mentor.set_viewport_size(DESKTOP)


def learner_sees_session_accepted(learner: Page) -> None:
    learner.get_by_role("link", name="My sessions").click()
    upcoming = learner.get_by_test_id("learner-upcoming")
    expect(upcoming).to_contain_text("Tue 3 Mar 2026, 19:00–20:00 CET")
    expect(upcoming).to_contain_text("accepted")


def learner_messages_mentor_with_a_file(learner: Page, base: str, shots: Shots) -> None:
    """From the Message button on the mentor's profile: a text and a file."""
    learner.get_by_role("link", name="Find a mentor").click()
    learner.locator("#q").fill("statistics")
    learner.get_by_role("button", name="Search", exact=True).click()
    learner.get_by_role("region", name="Results").get_by_role("link", name=MENTOR["name"], exact=True).click()
    learner.get_by_role("button", name=f"Message {MENTOR['name']}").click()
    open_chat_connected(learner, LEARNER["name"])
    send_chat_message(learner, "Hello Mara, here is my questionnaire")
    learner.set_input_files("#chat-file", files=[{"name": "survey.csv", "mimeType": "text/csv",
                                                  "buffer": b"respondent,weight\n1,0.8\n2,1.3\n"}])
    expect(learner.locator(".chat-message.mine a.chat-file", has_text="survey.csv")).to_be_visible()


def mentor_replies_from_booking_row(mentor: Page, shots: Shots) -> None:
    """From the Message button on the session's row: the learner's text and file are there; she answers."""
    mentor.get_by_test_id("nav-sessions").click()
    row = mentor.get_by_test_id("mentor-upcoming").locator(".booking-row", has_text=LEARNER["name"])
    row.get_by_role("button", name=f"Message {LEARNER['name']}").click()
    open_chat_connected(mentor, MENTOR["name"])
    expect(mentor.locator(".chat-message", has_text="here is my questionnaire")).to_be_visible()
    expect(mentor.locator(".chat-lists [aria-current=page] + .badge")).to_have_count(0)  # read as it opened
    shared = mentor.locator("a.chat-file", has_text="survey.csv")
    expect(shared).to_be_visible()
    with mentor.expect_download() as download:
        shared.click(modifiers=["Alt"])  # Alt-click downloads the link
    assert Path(download.value.path()).read_bytes() == b"respondent,weight\n1,0.8\n2,1.3\n"
    send_chat_message(mentor, "Thanks Lina, see you on Tuesday")
    shots(mentor, "mentor-chat")


def learner_sees_reply(learner: Page, shots: Shots) -> None:
    expect(learner.locator(".chat-message", has_text="see you on Tuesday")).to_be_visible()
    shots(learner, "learner-chat")


def scheduler_completes_session(served, fixed_clock) -> None:
    """The clock moves past the session's end and the completion delay; the scheduler (not the test) runs the job."""
    _, scheduler = served
    fixed_clock.set(fixed_clock.now + timedelta(days=2, hours=21))  # Wednesday 21:00 UTC: ended 26 h ago
    runs = scheduler.runs
    eventually(lambda: scheduler.runs >= runs + 2, timeout=30)  # a whole run began after the clock moved


def completion_mail_links_to_review(settings, base: str) -> None:
    """The completion e-mail (sent by the scheduler, outside any request) links to the review on this server."""
    mails = [m for m in read_outbox(settings.outbox_path)
             if m.get("kind") == "booking.completed" and m["to"] == LEARNER["email"]]
    assert mails, "no completion e-mail to the learner"
    link = re.search(r"Rate this session: (\S+)", mails[-1]["body"]).group(1)
    assert link.startswith(base + "/bookings/") and link.endswith("/review")


def learner_rates_session(learner: Page, shots: Shots) -> None:
    learner.get_by_role("link", name="My sessions").click()
    row = learner.locator(".booking-row", has_text=MENTOR["name"])
    expect(row.locator(".badge")).to_have_text("completed")
    shots(learner, "learner-session-completed")
    row.get_by_role("link", name="Rate this session").click()
    expect(learner.get_by_role("heading", name=f"How was your session with {MENTOR['name']}?")).to_be_visible()
    learner.set_viewport_size(PHONE)  # rated on the phone
    learner.get_by_title("5 stars").click()  # the fifth star
    expect(learner.get_by_label("5 stars")).to_be_checked()
    learner.get_by_label("Your review").fill("Clear, patient and practical: my weights finally make sense.")
    shots(learner, "learner-rates-390")
    assert learner.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    learner.get_by_role("button", name="Publish review").click()
    expect(learner.get_by_role("heading", name=MENTOR["name"])).to_be_visible()  # back on the mentor's page
    learner.set_viewport_size(DESKTOP)


def rating_shows_on_public_profile(browser, base: str, mentor_id: int, shots: Shots) -> None:
    """Anyone (here: a visitor, not logged in) sees the rating and the review on the mentor's page."""
    visitor = new_page(browser)
    try:
        visitor.goto(f"{base}/mentors/{mentor_id}")
        expect(visitor.get_by_role("heading", name=MENTOR["name"])).to_be_visible()
        expect(visitor.locator(".preview-book .rating")).to_contain_text("5.0")
        expect(visitor.locator("#reviews")).to_contain_text("my weights finally make sense")
        shots(visitor, "public-profile-rated")
    finally:
        visitor.context.close()


# --- the whole loop -----------------------------------------------------------------------------------------

def test_mentor_admin_and_learner_journeys(app, fixed_clock, served, browser, settings, make_user, topics,
                                            shots):
    base, _ = served
    assert not base.endswith(":5000")
    PROBLEMS.clear()
    make_user(ADMIN["email"], password=PASSWORD, roles=("admin",), full_name=ADMIN["name"])
    mentor, admin, learner = new_page(browser), new_page(browser), new_page(browser)
    try:
        # the mentor's story
        mentor_signs_up_and_verifies(mentor, base, settings)
        mentor_fills_profile_and_submits(mentor, shots)

        # the admin's story
        admin_logs_in_with_two_factor(admin, base, shots)
        admin_approves_mentor_from_queue(admin, shots)
        mentor_sees_approval(mentor, settings)
        mentor_id = int(re.search(r"/mentors/(\d+)", mentor.url).group(1))

        # the learner's story
        learner_signs_up_and_verifies(learner, base, settings)
        learner_fills_profile(learner)
        price = learner_searches_and_opens_mentor(learner, shots)
        learner_books_a_slot(learner)
        learner_pays_in_sandbox(learner, price, shots)
        mentor_accepts_from_navigation(mentor, shots)
        learner_sees_session_accepted(learner)
        learner_messages_mentor_with_a_file(learner, base, shots)
        mentor_replies_from_booking_row(mentor, shots)
        learner_sees_reply(learner, shots)
        scheduler_completes_session(served, fixed_clock)
        completion_mail_links_to_review(settings, base)
        learner_rates_session(learner, shots)
        rating_shows_on_public_profile(browser, base, mentor_id, shots)
        assert PROBLEMS == []
    finally:
        for page in (mentor, admin, learner):
            page.context.close()
