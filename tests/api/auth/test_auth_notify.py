"""E-mail through SMTP (a local aiosmtpd server) or the outbox; SMS through the sender interface; no secrets logged."""
from __future__ import annotations

import logging
import re

import pytest

from api.benchmarks.common import free_port
from tests.api.auth.accounts_helpers import JsonClient, last_code, last_link, outbox

# Nothing here depends on the database engine: these tests run on SQLite only.


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 Message accepted"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_verification_mail_goes_through_smtp_when_configured(app, smtp_server):
    controller, inbox = smtp_server
    settings = app.config["MENTORHUB_SETTINGS"]
    settings.mail_server, settings.mail_port = controller.hostname, controller.port
    response = JsonClient(app.test_client()).signup()
    assert response.status_code == 202
    assert len(inbox.messages) == 1
    envelope = inbox.messages[0]
    assert envelope.rcpt_tos == ["ana@example.com"]
    body = envelope.content.decode()
    assert "Subject: Confirm your e-mail address" in body
    assert re.search(r"http://localhost/verify/email/\S+", body)
    assert outbox(settings, "email") == []  # SMTP instead of the outbox
    assert outbox(settings, "sms")  # SMS still through its sender


def test_unreachable_smtp_server_does_not_break_sign_up(app):
    settings = app.config["MENTORHUB_SETTINGS"]
    settings.mail_server, settings.mail_port, settings.mail_timeout_seconds = "127.0.0.1", free_port(), 2
    api = JsonClient(app.test_client())
    assert api.signup().status_code == 202
    assert api.post("/api/v1/auth/verify/email/resend").status_code == 503


def test_outbox_holds_messages_and_the_log_holds_no_secrets(api, settings, caplog):
    caplog.set_level(logging.DEBUG)
    api.signup()
    link, code = last_link(settings, "verify_email"), last_code(settings)
    token = link.rsplit("/", 1)[1]
    api.post("/api/v1/auth/password/forgot", json={"email": "ana@example.com"})
    reset_token = last_link(settings, "password_reset").rsplit("/", 1)[1]
    assert "written to the outbox" in caplog.text
    for secret in (token, code, reset_token):
        assert secret not in caplog.text


def test_sms_sender_is_pluggable(app, api, monkeypatch):
    import sys
    import types

    sent = []

    class FakeProvider:
        def __init__(self, settings):
            self.settings = settings

        def send(self, to, text, *, kind=""):
            sent.append((to, text, kind))

    module = types.ModuleType("fake_sms_provider")
    module.FakeProvider = FakeProvider
    monkeypatch.setitem(sys.modules, "fake_sms_provider", module)
    app.config["MENTORHUB_SETTINGS"].sms_sender = "fake_sms_provider:FakeProvider"
    api.signup()
    assert sent and sent[0][0] == "+447700900123" and sent[0][2] == "phone_otp"
    assert re.search(r"\b\d{6}\b", sent[0][1])
