"""Files and voice messages: checked by content, size-limited, stored outside static, only for the two participants."""
from __future__ import annotations

import io
import struct

import pytest

from tests.api.chat.chat_helpers import ack, book, csrf_headers, open_direct, received_messages


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _ogg_opus(seconds: float) -> bytes:
    """A minimal Ogg Opus stream: the OpusHead page and a last page whose granule position gives the length."""
    def page(granule: int, payload: bytes) -> bytes:
        return b"OggS" + bytes([0, 0]) + struct.pack("<q", granule) + b"\x01\x00\x00\x00" + b"\x00" * 8 + \
            bytes([1, len(payload)]) + payload
    return page(0, b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00") + page(int(seconds * 48000), b"\x00" * 40)


WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm" + b"\x00" * 200


@pytest.fixture
def chat(app, sio, login_client, people):
    book(app, people["learner"], people["mentor"])
    leo_http, mara_http = login_client(people["learner"]), login_client(people["mentor"])
    slug = open_direct(leo_http, people["mentor"])
    mara = sio(mara_http)
    ack(mara, "join", {"room": slug})
    return {"slug": slug, "leo_http": leo_http, "mara_http": mara_http, "mara": mara}


def _upload(http, slug, data: bytes, name: str, **fields):
    form = {"file": (io.BytesIO(data), name), **fields}
    return http.post(f"/api/v1/chat/rooms/{slug}/attachments", data=form, headers=csrf_headers(http),
                     content_type="multipart/form-data")


def _stored_files(app) -> list:
    directory = app.config["MENTORHUB_SETTINGS"].var_dir / "chat"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.mark.db
def test_an_image_is_shared_and_served_only_to_the_two_participants(app, login_client, people, chat):
    response = _upload(chat["leo_http"], chat["slug"], _png(), "diagram.png", body="my diagram")
    assert response.status_code == 201, response.json
    [attachment] = response.json["message"]["attachments"]
    assert attachment["kind"] == "image" and attachment["content_type"] == "image/png"
    [broadcast] = received_messages(chat["mara"])
    assert broadcast["attachments"][0]["url"] == attachment["url"]

    stored = _stored_files(app)
    assert len(stored) == 1 and "." not in stored[0]  # a server-made name, under var/chat
    static_dir = app.static_folder
    assert not str(app.config["MENTORHUB_SETTINGS"].var_dir / "chat").startswith(static_dir)

    download = chat["mara_http"].get(attachment["url"])
    assert download.status_code == 200 and download.data == _png()
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert login_client(people["stranger"]).get(attachment["url"]).status_code == 404
    assert login_client(people["admin"]).get(attachment["url"]).status_code == 404
    assert app.test_client().get(attachment["url"]).status_code in (302, 401)


def test_html_named_mp3_is_refused_and_leaves_no_file(app, chat):
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    response = _upload(chat["leo_http"], chat["slug"], html, "song.mp3")
    assert response.status_code == 415
    assert "does not match" in response.json["error"]["message"]
    assert _stored_files(app) == []
    assert received_messages(chat["mara"]) == []


def test_too_large_file_is_refused_and_leaves_no_file(app, chat):
    settings = app.config["MENTORHUB_SETTINGS"]
    settings.chat_max_file_bytes = 64 * 1024
    big = _png() + b"\x00" * (300 * 1024)
    response = _upload(chat["leo_http"], chat["slug"], big, "big.png")
    assert response.status_code == 413
    assert _stored_files(app) == []
    settings.chat_max_file_bytes = 200 * 1024  # declared length within the slack: refused while streaming
    response = _upload(chat["leo_http"], chat["slug"], big[: 250 * 1024], "big.png")
    assert response.status_code == 413
    assert _stored_files(app) == []


def test_an_image_with_too_many_pixels_is_refused_and_leaves_no_file(app, chat):
    from tests.api.profiles.profile_helpers import huge_png

    response = _upload(chat["leo_http"], chat["slug"], huge_png(7999, 7999), "bomb.png")
    assert response.status_code == 413
    assert "too many pixels" in response.json["error"]["message"]
    assert _stored_files(app) == []
    assert received_messages(chat["mara"]) == []


def test_text_and_pdf_are_accepted_binary_junk_is_not(app, chat):
    code = _upload(chat["leo_http"], chat["slug"], b"print('hello')\n", "hello.py")
    assert code.status_code == 201
    assert code.json["message"]["attachments"][0]["content_type"] == "text/plain; charset=utf-8"
    download = chat["mara_http"].get(code.json["message"]["attachments"][0]["url"])
    assert download.headers["Content-Type"].startswith("text/plain")
    assert download.headers["Content-Disposition"].startswith("attachment")
    pdf = _upload(chat["leo_http"], chat["slug"], b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "notes.pdf")
    assert pdf.status_code == 201
    junk = _upload(chat["leo_http"], chat["slug"], b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "setup.exe")
    assert junk.status_code == 415
    assert len(_stored_files(app)) == 2


def test_voice_messages_webm_and_ogg_with_a_length_limit(app, chat):
    webm = _upload(chat["leo_http"], chat["slug"], WEBM, "voice-message.webm", voice="1", duration="4.2")
    assert webm.status_code == 201, webm.json
    [voice] = webm.json["message"]["attachments"]
    assert voice["kind"] == "voice" and voice["content_type"] == "audio/webm" and voice["duration"] == 4.2
    ogg = _upload(chat["leo_http"], chat["slug"], _ogg_opus(7.5), "voice-message.ogg", voice="1", duration="1")
    assert ogg.json["message"]["attachments"][0]["duration"] == 7.5  # measured from the stream, not trusted
    too_long = _upload(chat["leo_http"], chat["slug"], _ogg_opus(600), "voice-message.ogg", voice="1")
    assert too_long.status_code == 413
    not_audio = _upload(chat["leo_http"], chat["slug"], _png(), "voice-message.webm", voice="1", duration="2")
    assert not_audio.status_code == 415
    assert len(_stored_files(app)) == 2


def test_files_only_in_one_on_one_rooms(app, login_client, people):
    http = login_client(people["learner"])
    assert _upload(http, "general", _png(), "x.png").status_code == 403
    assert _stored_files(app) == []
