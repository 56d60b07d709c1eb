"""Every response carries the security headers: CSP with a script nonce, no framing, no sniffing, a referrer
policy, and HSTS in production (issue 17, item 7)."""
from __future__ import annotations

import re

import pytest

from api import create_app
from tests.conftest import make_settings

PAGES = ["/", "/login", "/signup", "/search", "/api/v1/csrf-token", "/healthz", "/no-such-page", "/api/v1/no-such"]


@pytest.mark.parametrize("path", PAGES)
def test_every_response_carries_the_headers(client, path):
    response = client.get(path)
    headers = response.headers
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert re.search(r"script-src 'self' 'nonce-[\w-]{16,}'", policy)
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in headers  # not over plain HTTP in development


def test_each_response_has_its_own_nonce_and_inline_scripts_carry_it(client):
    first = client.get("/login").headers["Content-Security-Policy"]
    second = client.get("/login").headers["Content-Security-Policy"]
    assert first != second


def test_production_adds_hsts(tmp_path):
    settings = make_settings(tmp_path, profile="production", public_base_url="https://mentorhub.example")
    app = create_app(settings=settings)
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_every_inline_script_in_the_templates_has_the_nonce():
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "api" / "templates"
    for template in templates.rglob("*.html"):
        for tag in re.findall(r"<script\b[^>]*>", template.read_text()):
            if "src=" in tag or 'type="application/json"' in tag:
                continue
            assert 'nonce="{{ csp_nonce() }}"' in tag, f"{template.name}: {tag}"
