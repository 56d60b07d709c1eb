"""SMS through one interface; the default sender writes to the outbox file (the log never holds the text)."""
from __future__ import annotations

import importlib
import logging
from typing import Protocol

from api.notify.outbox import append_to_outbox
from api.settings import Settings, current_settings

logger = logging.getLogger("mentorhub.notify.sms")


class SmsSender(Protocol):
    """Anything that can deliver a short text to an E.164 phone number."""

    def send(self, to: str, text: str, *, kind: str = "") -> None: ...


class OutboxSmsSender:
    """The embedded default: the message goes to the outbox file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, to: str, text: str, *, kind: str = "") -> None:
        append_to_outbox(self.settings.outbox_path, {"channel": "sms", "kind": kind, "to": to, "body": text})
        logger.info("SMS written to the outbox", extra={"kind": kind})


def get_sms_sender(settings: Settings) -> SmsSender:
    """The sender named by settings.sms_sender: "outbox" or "package.module:ClassName" (built with settings)."""
    if settings.sms_sender in ("", "outbox"):
        return OutboxSmsSender(settings)
    module_name, _, class_name = settings.sms_sender.partition(":")
    sender_class = getattr(importlib.import_module(module_name), class_name)
    return sender_class(settings)


def send_sms(to: str, text: str, *, kind: str = "", settings: Settings | None = None) -> None:
    get_sms_sender(settings or current_settings()).send(to, text, kind=kind)
