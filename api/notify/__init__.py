"""Outgoing messages: e-mail (SMTP or the outbox file) and SMS (one sender interface, outbox by default)."""
from api.notify.mail import send_email
from api.notify.outbox import read_outbox
from api.notify.sms import OutboxSmsSender, SmsSender, get_sms_sender, send_sms

__all__ = ["OutboxSmsSender", "SmsSender", "get_sms_sender", "read_outbox", "send_email", "send_sms"]
