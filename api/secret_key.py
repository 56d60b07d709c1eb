"""The app's SECRET_KEY: production refuses to start without a strong one (and the other secrets it needs);
development and testing without one make a random key once and keep it in var_dir/secret_key (mode 0600)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from api.settings import Settings

BUILT_IN_KEYS = frozenset({"", "dev-only-secret-change-me", "change-me", "changeme", "secret", "dev", "development"})
MIN_LENGTH = 32  # characters; `python -c "import secrets; print(secrets.token_urlsafe(48))"` makes one
FILE_NAME = "secret_key"


class InsecureConfiguration(RuntimeError):
    """Production settings that must not serve: the message lists every problem and how to fix it."""


def weak(key: str) -> bool:
    return key.strip().lower() in BUILT_IN_KEYS or len(key) < MIN_LENGTH or len(set(key)) < 10


def production_problems(settings: Settings) -> list[str]:
    """What production lacks: a strong SECRET_KEY, the public address, and the secret of every service whose id
    is configured."""
    problems = []
    if weak(settings.secret_key):
        problems.append(f"SECRET_KEY is missing, built in or weak (use at least {MIN_LENGTH} random characters)")
    if not settings.public_base_url:
        problems.append("PUBLIC_BASE_URL is not set (links in e-mails must not follow a request's Host header)")
    pairs = [
        ("STRIPE_SECRET_KEY", settings.stripe_secret_key, "STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret),
        ("RAZORPAY_KEY_ID", settings.razorpay_key_id, "RAZORPAY_KEY_SECRET", settings.razorpay_key_secret),
        ("RAZORPAY_KEY_ID", settings.razorpay_key_id, "RAZORPAY_WEBHOOK_SECRET", settings.razorpay_webhook_secret),
        ("GOOGLE_CLIENT_ID", settings.google_client_id, "GOOGLE_CLIENT_SECRET", settings.google_client_secret),
        ("FACEBOOK_CLIENT_ID", settings.facebook_client_id, "FACEBOOK_CLIENT_SECRET", settings.facebook_client_secret),
        ("MAIL_USERNAME", settings.mail_username, "MAIL_PASSWORD", settings.mail_password),
    ]
    for have_name, have, need_name, need in pairs:
        if have and not need:
            problems.append(f"{have_name} is set but {need_name} is not")
    return problems


def secret_key_for(settings: Settings) -> str:
    """The key to sign sessions and links with; raises InsecureConfiguration in production without a strong one."""
    if settings.profile == "production":
        problems = production_problems(settings)
        if problems:
            raise InsecureConfiguration("MentorHub will not start in production: " + "; ".join(problems) + ".")
        return settings.secret_key
    if settings.secret_key.strip().lower() not in BUILT_IN_KEYS:
        return settings.secret_key
    return _kept_key(settings.var_dir / FILE_NAME)


def _kept_key(path: Path) -> str:
    """A random key made on first use and read back afterwards (owner-only file, created atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return _read(path)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key


def _read(path: Path) -> str:
    import time

    for _ in range(50):  # another process may have created the file and not written it yet
        key = path.read_text().strip()
        if key:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return key
        time.sleep(0.01)
    raise FileNotFoundError(path)
