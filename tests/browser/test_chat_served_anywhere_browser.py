"""In Chromium, against the real eventlet server on a port other than 5000 with no origins configured (as after
`make run PORT=...`): a chat message arrives; a message the server refuses, or one sent while the chat is
disconnected, shows its sender an error and stays in the box; on a 390 px phone the messages are near the top."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from api.benchmarks.chat import USER_AGENT, prepare, start_workers
from tests.conftest import make_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path("/tmp/shots")


@pytest.fixture
def served(tmp_path, sqlite_template):
    """The eventlet server on a free port, two users, and 36 topics (so 37 public rooms, as in the demo)."""
    from api import create_app
    from api.extensions import db
    from api.tables import Topic

    shutil.copy(sqlite_template, tmp_path / "mentorhub.db")
    settings = make_settings(tmp_path)
    app = create_app(settings=settings)
    with app.app_context():
        db.session.add_all([Topic(slug=f"topic{n:02d}", name=f"Topic {n:02d}", category="misc") for n in range(36)])
        db.session.commit()
        db.engine.dispose()
    cookies, _ = prepare(settings, 2)
    workers = start_workers(1, settings, tmp_path, extra_env={
        "CORS_ALLOWED_ORIGINS": "[]", "PUBLIC_BASE_URL": "", "CHAT_FLOOD_MESSAGES": "3", "CHAT_FLOOD_SECONDS": "60"})
    yield workers, cookies
    workers.stop()


def _page(browser, base: str, cookie: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 844 if width < 500 else 900},
                                  locale="en-GB", user_agent=USER_AGENT)
    context.add_cookies([{"name": "session", "value": cookie, "url": base}])
    page = context.new_page()
    page.goto(f"{base}/chat/rooms/general")
    return context, page


def test_chat_on_another_port_delivers_and_a_refused_message_shows_an_error(served, browser):
    workers, cookies = served
    base = workers.urls[0]
    assert not base.endswith(":5000")
    SHOTS.mkdir(parents=True, exist_ok=True)
    sender_context, sender = _page(browser, base, cookies[0], 1280)
    phone_context, phone = _page(browser, base, cookies[1], 390)
    try:
        for page in (sender, phone):
            expect(page.locator("#chat-online")).to_contain_text("Bench User")
        box = sender.get_by_role("textbox", name="Message")
        box.fill("Hello from another port")
        box.press("Enter")
        phone.locator(".chat-message", has_text="Hello from another port").wait_for()  # it arrived
        expect(sender.locator("#chat-status")).to_have_text("")

        # on the phone the room list is one select: the messages start near the top, not 2,000 px down
        assert phone.locator("#chat-switch").is_visible() and not phone.locator(".chat-lists").is_visible()
        assert phone.locator("#chat-log").bounding_box()["y"] < 450
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(SHOTS / "chat-served-anywhere-390.png"), full_page=True)
        phone.locator("#chat-switch").select_option(label="# Topic 07")
        phone.wait_for_url(f"{base}/chat/rooms/topic-topic07")

        # flood control (3 messages a minute here) refuses the fourth: the sender sees why, the text is kept
        for n in (2, 3):
            box.fill(f"message {n}")
            box.press("Enter")
            sender.locator(".chat-message", has_text=f"message {n}").wait_for()
        box.fill("one too many")
        box.press("Enter")
        expect(sender.locator("#chat-status")).to_contain_text("Not sent: You are sending messages too fast")
        expect(box).to_have_value("one too many")
        assert sender.locator(".chat-message", has_text="one too many").count() == 0
        sender.screenshot(path=str(SHOTS / "chat-served-anywhere-refused-1280.png"), full_page=True)

        # the server goes away: a message typed meanwhile is not swallowed
        workers.stop()
        expect(sender.locator("#chat-status")).to_contain_text(re.compile("Connection lost|Cannot connect"),
                                                               timeout=15000)
        box.fill("are you there?")
        box.press("Enter")
        expect(sender.locator("#chat-status")).to_contain_text("Not sent: the chat is not connected")
        expect(box).to_have_value("are you there?")
        sender.wait_for_timeout(2500)  # reconnection attempts fail meanwhile: the error stays in view
        expect(sender.locator("#chat-status")).to_contain_text("Not sent: the chat is not connected")
    finally:
        sender_context.close()
        phone_context.close()
