"""Uploads: size limits (413), type by magic bytes, server names outside static, re-encoded pictures, who may see them."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.api.auth.accounts_helpers import JsonClient, form_token
from tests.api.profiles.profile_helpers import HTML_BYTES, MP4_BYTES, PDF_BYTES, huge_png, jpeg_with_exif, png_bytes

# Tests whose outcome depends on the database run on SQLite and PostgreSQL (`db`); the rest on SQLite.


def _upload(api, url, data: bytes, filename: str, field="file"):
    return api.post(url, data={field: (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def test_picture_is_reencoded_resized_and_stored_under_a_server_name(api, settings, make_user, login):
    login(make_user("ana@example.com"))
    response = _upload(api, "/api/v1/profile/picture", png_bytes(1600, 900), "../../etc/passwd.png")
    assert response.status_code == 201, response.json
    url = response.json["picture_url"]
    name = url.rsplit("/", 1)[1]
    assert url.startswith("/media/") and "passwd" not in name and name.endswith(".jpg")
    stored = settings.upload_dir / name
    assert stored.is_file() and "static" not in str(stored)
    served = api.get(url)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    image = Image.open(io.BytesIO(served.data))
    assert image.format == "JPEG" and max(image.size) == 512 and image.size == (512, 288)


def test_picture_metadata_is_dropped(api, make_user, login):
    login(make_user("ana@example.com"))
    url = _upload(api, "/api/v1/profile/picture", jpeg_with_exif(), "me.jpg").json["picture_url"]
    data = api.get(url).data
    assert b"SecretCam" not in data
    assert not Image.open(io.BytesIO(data)).getexif()


def test_type_is_judged_by_content_not_by_name(api, make_user, login):
    login(make_user("ana@example.com"))
    for data, name in ((HTML_BYTES, "innocent.jpg"), (PDF_BYTES, "photo.png"), (b"\xff\xd8\xff" + b"junk" * 10,
                                                                              "broken.jpg")):
        response = _upload(api, "/api/v1/profile/picture", data, name)
        assert response.status_code == 400, name
        assert "file" in response.json["error"]["fields"]
    missing = api.post("/api/v1/profile/picture", data={}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "file" in missing.json["error"]["fields"]


def test_too_large_uploads_get_413(app, api, make_user, login):
    app.config["MENTORHUB_SETTINGS"].max_picture_bytes = 20_000
    login(make_user("ana@example.com"))
    response = _upload(api, "/api/v1/profile/picture", png_bytes(10, 10) + b"\x00" * 30_000, "big.png")
    assert response.status_code == 413
    assert "too large" in response.json["error"]["message"] and "file" in response.json["error"]["fields"]


@pytest.mark.db
def test_learner_picture_is_private_to_owner_and_admins(app, api, make_user, login):
    login(make_user("ana@example.com"))
    url = _upload(api, "/api/v1/profile/picture", png_bytes(100, 100), "me.png").json["picture_url"]
    assert JsonClient(app.test_client()).get(url).status_code == 404
    make_user("bob@example.com")
    from tests.api.admin.admin_helpers import admin_api_client

    root = make_user("root@example.com", roles=("admin",))
    bob, admin = JsonClient(app.test_client()), admin_api_client(app, root)  # admins: password and TOTP code
    bob.login("bob@example.com")
    assert bob.get(url).status_code == 404
    assert admin.get(url).status_code == 200
    assert JsonClient(app.test_client()).get("/media/not-a-file.jpg").status_code == 404


@pytest.mark.db
def test_mentor_media_become_public_on_approval_documents_never(app, api, make_user, login, mentor_payload):
    mentor = make_user("mara@example.com", roles=("mentor",))
    login(mentor)
    api.put("/api/v1/profile/mentor", json=mentor_payload)
    picture = _upload(api, "/api/v1/profile/picture?target=mentor", png_bytes(), "me.png").json["picture_url"]
    video = _upload(api, "/api/v1/profile/mentor/video", MP4_BYTES, "intro.mp4")
    assert video.status_code == 201 and video.json["content_type"] == "video/mp4"
    assert _upload(api, "/api/v1/profile/mentor/video", HTML_BYTES, "intro.mp4").status_code == 400
    cert = api.post("/api/v1/profile/mentor/certifications",
                    data={"name": "PhD Statistics", "document": (io.BytesIO(PDF_BYTES), "diploma.pdf")},
                    content_type="multipart/form-data")
    assert cert.status_code == 201
    document = cert.json["document_url"]
    bad_doc = api.post("/api/v1/profile/mentor/certifications",
                       data={"name": "Fake", "document": (io.BytesIO(HTML_BYTES), "x.pdf")},
                       content_type="multipart/form-data")
    assert bad_doc.status_code == 400 and "document" in bad_doc.json["error"]["fields"]
    served = api.get(document)
    assert served.status_code == 200 and served.mimetype == "application/pdf"
    assert served.headers["Content-Disposition"].startswith("attachment")

    visitor = JsonClient(app.test_client())
    for url in (picture, video.json["video_upload_url"], document):
        assert visitor.get(url).status_code == 404
    from tests.api.admin.admin_helpers import admin_api_client

    admin = admin_api_client(app, make_user("root@example.com", roles=("admin",)))  # password and TOTP code
    assert admin.post(f"/api/v1/admin/mentors/{mentor.id}/approve").status_code == 200
    assert visitor.get(picture).status_code == 200
    assert visitor.get(video.json["video_upload_url"]).status_code == 200
    assert visitor.get(document).status_code == 404


def test_web_picture_upload(app, client, make_user, login):
    login(make_user("ana@example.com"))
    token = form_token(client, "/profile")
    response = client.post("/profile/picture", data={"csrf_token": token, "target": "learner",
                                                     "picture": (io.BytesIO(png_bytes(300, 300)), "me.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get("/profile").get_data(as_text=True)
    assert 'src="/media/' in page and 'alt="Picture of Test User"' in page
    wrong = client.post("/profile/picture", data={"csrf_token": token, "target": "learner",
                                                  "picture": (io.BytesIO(HTML_BYTES), "me.png")},
                        content_type="multipart/form-data", follow_redirects=True)
    assert "must be a JPEG, PNG, GIF or WebP" in wrong.get_data(as_text=True)
    no_csrf = client.post("/profile/picture", data={"picture": (io.BytesIO(png_bytes(10, 10)), "me.png")},
                          content_type="multipart/form-data")
    assert no_csrf.status_code == 400


@pytest.mark.db
def test_a_picture_with_too_many_pixels_is_refused_before_decoding(api, settings, make_user, login):
    bomb = huge_png(7999, 7999)
    assert len(bomb) < 100_000
    login(make_user("ana@example.com"))
    response = _upload(api, "/api/v1/profile/picture", bomb, "bomb.png")
    assert response.status_code == 400
    assert "too many pixels" in response.json["error"]["message"] and "file" in response.json["error"]["fields"]
    assert not settings.upload_dir.exists() or list(settings.upload_dir.iterdir()) == []
