"""In Chromium, a learner and a mentor (two browser contexts) chat one-on-one: text (formatting shown, markup
inert), a read receipt, a file, and a voice message recorded with MediaRecorder from a fake microphone."""
from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect

from api.benchmarks.chat import session_cookie_for
from api.benchmarks.common import free_port
from tests.conftest import ENV_SETTINGS, make_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path("/tmp/shots")
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) MentorHubChatTest/1"
PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, cors_allowed_origins=[BASE])


@pytest.fixture
def chat_server(app):
    """The app on a known port (the socket origin check needs it in the settings), in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", PORT, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield BASE
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def media_browser(browser):
    """Chromium with a fake microphone that needs no permission prompt, from the session's Playwright."""
    chromium = browser.browser_type.launch(
        executable_path=str(ENV_SETTINGS.chromium_path),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run", "--disable-quic",
              "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
    )
    yield chromium
    chromium.close()


def _people(app):
    from api.extensions import db
    from api.tables import Booking, BookingStatus, MentorProfile, MentorStatus, Role, User, UserRole, utcnow

    with app.app_context():
        now = utcnow()
        learner = User(email="leo@example.com", full_name="Leo Learner", email_verified_at=now, phone_verified_at=now,
                       roles=[UserRole(role=Role.LEARNER)])
        mentor = User(email="mara@example.com", full_name="Mara Mentor", email_verified_at=now, phone_verified_at=now,
                      roles=[UserRole(role=Role.MENTOR)])
        db.session.add_all([learner, mentor])
        db.session.flush()
        db.session.add(MentorProfile(user_id=mentor.id, price_minor=5000, currency="USD", status=MentorStatus.APPROVED))
        start = datetime.now(timezone.utc) + timedelta(days=2)
        db.session.add(Booking(learner_id=learner.id, mentor_id=mentor.id, starts_at=start,
                               ends_at=start + timedelta(hours=1), status=BookingStatus.REQUESTED,
                               price_minor=5000, currency="USD"))
        db.session.commit()
        return {"learner": (learner.id, session_cookie_for(app, learner, user_agent=BROWSER_UA)),
                "mentor": (mentor.id, session_cookie_for(app, mentor, user_agent=BROWSER_UA))}


def _page(media_browser, cookie: str):
    context = media_browser.new_context(viewport={"width": 1200, "height": 860}, locale="en-GB",
                                        user_agent=BROWSER_UA, permissions=["microphone"])
    context.add_cookies([{"name": "session", "value": cookie, "url": BASE}])
    return context, context.new_page()


def test_learner_and_mentor_exchange_text_a_file_and_a_voice_message(app, chat_server, media_browser):
    people = _people(app)
    SHOTS.mkdir(parents=True, exist_ok=True)
    learner_context, learner = _page(media_browser, people["learner"][1])
    mentor_context, mentor = _page(media_browser, people["mentor"][1])
    try:
        learner.goto(f"{BASE}/chat/with/{people['mentor'][0]}")
        learner.wait_for_url(re.compile(r"/chat/rooms/dm-\d+-\d+$"))
        room_url = learner.url
        mentor.goto(room_url)
        expect(learner.locator("#chat-online")).to_contain_text("Mara Mentor")

        learner.get_by_role("textbox", name="Message").fill('Hello **Mara**! <script>window.__pwned = 1</script>'
                                             '<img src=x onerror="window.__pwned = 2">')
        learner.keyboard.press("Enter")
        incoming = mentor.locator(".chat-message").filter(has_text="Hello")
        incoming.wait_for()
        assert incoming.locator(".chat-body strong").inner_text() == "Mara"
        assert "<script>window.__pwned = 1</script>" in incoming.inner_text()
        assert mentor.locator(".chat-body img").count() == 0
        assert mentor.evaluate("window.__pwned") is None and learner.evaluate("window.__pwned") is None
        learner.locator(".chat-message.mine .chat-receipt", has_text="Seen").wait_for()  # the mentor read it

        mentor.get_by_role("textbox", name="Message").fill("Hi Leo, send me your notes")
        mentor.get_by_role("button", name="Send").click()
        learner.locator(".chat-message").filter(has_text="send me your notes").wait_for()

        learner.set_input_files("#chat-file", files=[{"name": "notes.py", "mimeType": "text/x-python",
                                                      "buffer": b"def mean(xs):\n    return sum(xs) / len(xs)\n"}])
        shared = mentor.locator("a.chat-file", has_text="notes.py")
        shared.wait_for()
        download = mentor.evaluate("""async (href) => { const r = await fetch(href);
            return [r.status, r.headers.get('content-type'), r.headers.get('x-content-type-options'), await r.text()]; }""",
                                   shared.get_attribute("href"))
        assert download[0] == 200 and download[1].startswith("text/plain") and download[2] == "nosniff"
        assert "return sum(xs)" in download[3]

        record = mentor.get_by_role("button", name="Record voice")
        record.click()
        mentor.get_by_role("button", name=re.compile("Stop and send")).wait_for()
        mentor.wait_for_timeout(1600)
        mentor.get_by_role("button", name=re.compile("Stop and send")).click()
        voice = learner.locator(".chat-message audio")
        voice.wait_for(timeout=15000)
        src = voice.get_attribute("src")
        fetched = learner.evaluate("""async (href) => { const r = await fetch(href); const b = await r.arrayBuffer();
            return [r.status, r.headers.get('content-type'), b.byteLength]; }""", src)
        assert fetched[0] == 200 and fetched[1] in ("audio/webm", "audio/ogg") and fetched[2] > 500
        duration = learner.evaluate("""(el) => new Promise((ok) => { if (el.readyState >= 1) ok(true);
            el.addEventListener('loadedmetadata', () => ok(true)); el.addEventListener('error', () => ok(false));
            setTimeout(() => ok(el.readyState >= 1), 5000); })""", voice.element_handle())
        assert duration is True  # the browser can play it inline

        learner.screenshot(path=str(SHOTS / "chat-learner.png"), full_page=True)
        mentor.screenshot(path=str(SHOTS / "chat-mentor.png"), full_page=True)
        other = media_browser.new_context(user_agent=BROWSER_UA)
        try:
            stranger = other.new_page()
            response = stranger.goto(BASE + src)
            assert response.status in (401, 404) or "/login" in stranger.url  # not for anyone else
        finally:
            other.close()
    finally:
        learner_context.close()
        mentor_context.close()
