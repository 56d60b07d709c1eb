"""The one way to follow a `next` parameter: only to a path of this site (no open redirects)."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import redirect


def safe_next(target: str | None) -> str | None:
    """`target` when it is a same-site path, else None.

    Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so `/\t/evil.example`
    and `/\\evil.example` would leave the site: any control character or backslash, also percent-encoded,
    refuses the target.
    """
    if not target:
        return None
    for form in (target, unquote(target)):  # a proxy or a second decoding must not turn it into another site
        if not form.startswith("/") or form.startswith("//") or "\\" in form:
            return None
        if any(ord(c) < 32 or ord(c) == 127 for c in form):
            return None
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return None
    return target


def redirect_to_next(target: str | None, fallback: str):
    """A redirect to `target` when it is safe, else to `fallback` (a path of ours)."""
    return redirect(safe_next(target) or fallback)
