"""Two-factor enrolment shows a QR code of the otpauth:// link, drawn on the server as inline SVG, beside the setup key."""
from __future__ import annotations

import html
import re

import pyotp

from tests.api.admin.admin_helpers import form_token, web_login


def svg_modules(svg: str) -> tuple[int, set[tuple[int, int]]]:
    """(size in modules including the quiet zone, the dark modules as (row, column)) of segno's inline SVG path."""
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    path = re.search(r'<path class="qrline"[^>]* d="([^"]+)"', svg).group(1)
    dark, x, y = set(), 0.0, 0.0
    for command, a, b in re.findall(r"([MmHh])(-?[\d.]+)(?:\s+(-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:  # h: a run of dark modules along the row
            run = float(a)
            dark.update((int(y), int(x) + i) for i in range(int(run)))
            x += run
    return size, dark


def test_enrolment_shows_a_qr_code_of_the_provisioning_uri_and_the_setup_key(app, client, make_user):
    import segno

    make_user("root@example.com", roles=("admin",), full_name="Ada Admin")
    web_login(client, "root@example.com")
    page = client.get("/admin/2fa").get_data(as_text=True)

    secret = "".join(re.findall(r"<span>([A-Z2-7]{1,4})</span>", page))  # the key for manual entry is still shown
    uri = pyotp.TOTP(secret).provisioning_uri(name="root@example.com", issuer_name="MentorHub")
    assert uri.startswith("otpauth://totp/") and html.unescape(re.search(r'<a href="(otpauth://[^"]+)"', page)
                                                               .group(1)) == uri
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    [qr] = [s for s in svgs if 'class="totp-qr"' in s]
    assert 'role="img"' in qr and "authenticator app" in qr  # named for screen readers
    assert "<img" not in page.split('class="totp-qr"')[0][-200:] and "http" not in qr  # inline, nothing fetched

    size, dark = svg_modules(qr)
    expected = segno.make(uri, error="m", micro=False)  # what the URI encodes as a QR code
    border = (size - expected.symbol_size(scale=1, border=0)[0]) // 2
    assert border >= 4  # the quiet zone scanners need
    wanted = {(r + border, c + border) for r, row in enumerate(expected.matrix) for c, bit in enumerate(row) if bit}
    assert dark == wanted

    # once enrolled, the code step shows no QR code and no secret
    assert client.post("/admin/2fa", data={"code": pyotp.TOTP(secret).now(),
                                           "csrf_token": form_token(page)}).status_code == 302
    later = app.test_client()
    web_login(later, "root@example.com")
    again = later.get("/admin/2fa").get_data(as_text=True)
    assert "Enter your code" in again and "totp-qr" not in again and secret not in again
