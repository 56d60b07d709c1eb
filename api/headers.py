"""Security headers on every response: a Content-Security-Policy with a per-request script nonce, no framing,
no MIME sniffing, a strict referrer policy, and HSTS in production."""
from __future__ import annotations

import secrets

from flask import Flask, g, request

# the payment providers' checkout scripts and frames are the only third-party code a page may load
PAYMENT_SCRIPTS = "https://js.stripe.com https://checkout.razorpay.com"
PAYMENT_FRAMES = "https://js.stripe.com https://hooks.stripe.com https://api.razorpay.com https://checkout.razorpay.com"
# apiflask's interactive API docs (/api/docs) load Swagger UI from its CDN; only that page may
API_DOCS_CDN = "https://cdn.jsdelivr.net"
API_DOCS_PATH = "/api/docs"  # create_app's docs_path


def csp_nonce() -> str:
    """This response's script nonce: an inline <script> runs only with nonce="{{ csp_nonce() }}"."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(nonce: str, api_docs: bool = False) -> str:
    scripts = f"'self' 'nonce-{nonce}' {PAYMENT_SCRIPTS}" + (f" {API_DOCS_CDN} 'unsafe-inline'" if api_docs else "")
    styles = "'self' 'unsafe-inline'" + (f" {API_DOCS_CDN}" if api_docs else "")
    if api_docs:  # a nonce would make browsers ignore 'unsafe-inline', which the docs page's own script needs
        scripts = scripts.replace(f" 'nonce-{nonce}'", "")
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        f"style-src {styles}",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: data:",
        "font-src 'self'",
        "connect-src 'self'",
        f"frame-src {PAYMENT_FRAMES}",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ])


def register(app: Flask, production: bool) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        api_docs = request.path == API_DOCS_PATH
        headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce(), api_docs))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), geolocation=(), microphone=(self), payment=(self)")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin-allow-popups")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
