"""Checks of what people type (e-mail, phone, password, time zone), shared by the web forms and the JSON API.

Each returns the normalised value or raises ValueError with a message that can be shown next to the field.
"""
from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
_COMMON_PASSWORDS = frozenset(
    """
    password password1 password12 password123 password1234 passw0rd 1234567890 0123456789 12345678910
    qwertyuiop qwerty1234 qwerty12345 1q2w3e4r5t 1qaz2wsx3edc iloveyou12 letmein123 welcome123 admin12345
    abc1234567 abcdefghij 1111111111 0000000000 football12 baseball12 superman12 trustno1234 sunshine12
    princess12 dragon1234 monkey1234 mentorhub1 mentorhub123 changeme12 changeme123 qwertyuiop1
    """.split()
)
_PHONE_STRIP = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def normalise_email(value: str) -> str:
    """A syntactically valid address, lower-cased; deliverability is proven by the verification link."""
    value = (value or "").strip()
    if not value:
        raise ValueError("Enter your e-mail address.")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"Enter a valid e-mail address ({error}).") from None
    return result.normalized.lower()


def normalise_phone(value: str) -> str:
    """An E.164 number such as +447700900123 (spaces, dashes, dots and brackets are ignored)."""
    raw = _PHONE_STRIP.sub("", value or "")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if not raw:
        raise ValueError("Enter your mobile phone number.")
    if not _E164.match(raw):
        raise ValueError("Enter the phone number in international format with the country code, e.g. +44 7700 900123.")
    return raw


def check_password_strength(password: str, *, email: str = "", full_name: str = "") -> str:
    """Length and a blocklist (NIST SP 800-63B), not composition rules."""
    password = password or ""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValueError(f"Use at least {PASSWORD_MIN_LENGTH} characters for the password.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValueError(f"Use at most {PASSWORD_MAX_LENGTH} characters for the password.")
    lowered = password.lower()
    if lowered in _COMMON_PASSWORDS or len(set(lowered)) < 4:
        raise ValueError("This password is too easy to guess; try a few unrelated words.")
    local_part = email.split("@", 1)[0].lower() if email else ""
    if (local_part and len(local_part) >= 4 and local_part in lowered) or (email and email.lower() in lowered):
        raise ValueError("The password must not contain your e-mail address.")
    if full_name and full_name.strip() and lowered == full_name.strip().lower():
        raise ValueError("The password must not be your name.")
    return password


def check_full_name(value: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValueError("Enter your full name.")
    if len(value) > 120:
        raise ValueError("Use at most 120 characters for the name.")
    return value


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones()) | {"UTC"}


def time_zone_choices() -> list[str]:
    return sorted(z for z in _time_zones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/"))) + ["UTC"]


def check_time_zone(value: str) -> str:
    value = (value or "").strip()
    if value not in _time_zones():
        raise ValueError("Choose a time zone from the list, e.g. Europe/London.")
    return value
