"""E-mail: SMTP when MAIL_SERVER is set, else the outbox file; the log never holds the body."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from api.notify.outbox import append_to_outbox
from api.settings import Settings, current_settings

logger = logging.getLogger("mentorhub.notify.mail")


class MailError(RuntimeError):
    """The message could not be handed to the mail server."""


def build_message(settings: Settings, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_default_sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="mentorhub.example")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send_email(to: str, subject: str, text: str, *, html: str | None = None, kind: str = "",
               settings: Settings | None = None) -> None:
    """Send one e-mail; raises MailError when the SMTP server refuses or is unreachable."""
    settings = settings or current_settings()
    if not settings.mail_server:
        append_to_outbox(settings.outbox_path, {"channel": "email", "kind": kind, "to": to, "subject": subject,
                                                "body": text})
        logger.info("e-mail written to the outbox", extra={"kind": kind, "to": to})
        return
    message = build_message(settings, to, subject, text, html)
    try:
        with smtplib.SMTP(settings.mail_server, settings.mail_port, timeout=settings.mail_timeout_seconds) as smtp:
            if settings.mail_use_tls:
                smtp.starttls()
            if settings.mail_username:
                smtp.login(settings.mail_username, settings.mail_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        logger.error("e-mail could not be sent: %s", type(error).__name__, extra={"kind": kind})
        raise MailError(str(type(error).__name__)) from error
    logger.info("e-mail sent by SMTP", extra={"kind": kind, "to": to})
