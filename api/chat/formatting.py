"""Light formatting of chat messages, rendered safely: every character is escaped first.

Supported: **bold**, *italic*, `code`, http(s) links and @mentions; newlines become <br>.
Only these fixed tags are ever produced; nothing of the user's text becomes markup.
"""
from __future__ import annotations

import re
from html import escape

from markupsafe import Markup

_TOKEN = re.compile(
    r"(?P<code>`[^`\n]{1,500}`)"
    r"|(?P<url>https?://[^\s<>\"'`]{1,2000})"
    r"|(?P<mention>(?<![\w@])@[A-Za-z][A-Za-z0-9_.-]{1,39})"
)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\*\w])")
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def _plain(segment: str) -> str:
    """Escape, then apply bold and italic to the escaped text."""
    text = escape(segment, quote=True)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _ITALIC.sub(r"<em>\1</em>", text)
    return text


def _link(url: str) -> tuple[str, str]:
    """The anchor for a URL, and the punctuation that followed it in the sentence."""
    tail = ""
    while url and url[-1] in _TRAILING_PUNCTUATION:
        tail = url[-1] + tail
        url = url[:-1]
    safe = escape(url, quote=True)
    return f'<a href="{safe}" rel="nofollow noopener noreferrer ugc" target="_blank">{safe}</a>', tail


def mention_handles(body: str) -> set[str]:
    """The lower-cased handles mentioned in a message (`@MaraMentor` -> "maramentor")."""
    return {m.group("mention")[1:].lower() for m in _TOKEN.finditer(body) if m.group("mention")}


def handle_of(full_name: str) -> str:
    """The handle others type to mention a user: their full name without spaces, lower-cased."""
    return re.sub(r"\s+", "", full_name).lower()


def render_body(body: str) -> Markup:
    """The message as safe HTML."""
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(body):
        out.append(_plain(body[position:match.start()]))
        if match.group("code"):
            out.append(f"<code>{escape(match.group('code')[1:-1], quote=True)}</code>")
        elif match.group("url"):
            anchor, tail = _link(match.group("url"))
            out.append(anchor + escape(tail, quote=True))
        else:
            out.append(f'<span class="mention">{escape(match.group("mention"), quote=True)}</span>')
        position = match.end()
    out.append(_plain(body[position:]))
    return Markup("".join(out).replace("\r\n", "\n").replace("\n", "<br>"))
