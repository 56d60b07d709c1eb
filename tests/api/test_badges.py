"""Badges: one style sheet colours every badge by meaning, with WCAG AA contrast; no other sheet restyles them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "api" / "static" / "css"
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def rules(path: Path) -> list[tuple[list[str], dict[str, str]]]:
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    text = re.sub(r"@media[^{]*\{((?:[^{}]*\{[^{}]*\})*)\s*\}", r"\1", text)  # rules inside media queries too
    found = []
    for selectors, body in RULE.findall(text):
        declarations = dict((k.strip(), v.strip()) for k, _, v in
                            (d.partition(":") for d in body.split(";") if ":" in d))
        found.append(([s.strip() for s in selectors.split(",")], declarations))
    return found


def luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_only_the_badge_sheet_styles_badges():
    for path in sorted(CSS.glob("*.css")):
        if path.name == "badges.css":
            continue
        for selectors, _ in rules(path):
            offending = [s for s in selectors if re.search(r"\.badge\b|\.badge-|\.status-", s)]
            assert not offending, f"{path.name} styles badges: {offending}"


def test_every_tone_is_readable_and_means_one_thing():
    tones = {}
    for selectors, declarations in rules(CSS / "badges.css"):
        if "background" in declarations and "color" in declarations:
            ratio = contrast(declarations["background"], declarations["color"])
            assert ratio >= 4.5, (selectors, ratio)  # WCAG AA for normal text
            for selector in selectors:
                assert selector not in tones, f"{selector} has two colours"
                tones[selector] = (declarations["background"], declarations["color"])
    for tone in ("success", "warning", "danger", "neutral", "info", "count"):
        assert f".badge-{tone}" in tones, tone
    # the statuses users read mean the same colour everywhere: success, never the chat counter's colour
    for selector in (".badge-ok", ".badge.status-approved", ".badge-accepted", ".badge-completed"):
        assert tones[selector] == tones[".badge-success"], selector
    for selector in (".badge-wait", ".badge.status-pending", ".badge-requested"):
        assert tones[selector] == tones[".badge-warning"], selector
    for selector in (".badge-bad", ".badge.status-rejected", ".badge.status-suspended", ".badge-no_show"):
        assert tones[selector] == tones[".badge-danger"], selector


def test_every_page_loads_the_badge_sheet_after_the_main_one(client):
    html = client.get("/login").get_data(as_text=True)
    main, badges = html.find("css/mentorhub.css"), html.find("css/badges.css")
    assert 0 < main < badges
    sheet = client.get("/static/css/badges.css")
    assert sheet.status_code == 200 and sheet.mimetype == "text/css"
