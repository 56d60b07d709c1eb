"""The mentor approval queue: admins only; approve, or reject with a reason; the mentor is told and may resubmit."""
from __future__ import annotations

import io

import pytest

from tests.api.auth.accounts_helpers import JsonClient, form_token, outbox
from tests.api.profiles.profile_helpers import PDF_BYTES

# Tests whose outcome depends on the database run on SQLite and PostgreSQL (`db`); the rest on SQLite.


@pytest.fixture
def pending_mentor(app, make_user, mentor_payload):
    mentor = make_user("mara@example.com", roles=("mentor",), full_name="Mara Mentor")
    client = JsonClient(app.test_client())
    client.login("mara@example.com")
    client.put("/api/v1/profile/mentor", json=mentor_payload)
    client.post("/api/v1/profile/mentor/certifications",
                data={"name": "PhD Statistics", "document": (io.BytesIO(PDF_BYTES), "diploma.pdf")},
                content_type="multipart/form-data")
    return mentor, client


@pytest.fixture
def admin(app, make_user):
    from tests.api.admin.admin_helpers import admin_api_client

    user = make_user("root@example.com", roles=("admin",), full_name="Ada Admin")
    return admin_api_client(app, user)  # admins sign in with password and TOTP code


def test_queue_is_for_admins_only(app, pending_mentor, make_user):
    mentor, mentor_client = pending_mentor
    assert mentor_client.get("/admin/mentors").status_code == 403
    assert mentor_client.get("/api/v1/admin/mentors/pending").status_code == 403
    assert mentor_client.post(f"/api/v1/admin/mentors/{mentor.id}/approve").status_code == 403
    anonymous = JsonClient(app.test_client())
    assert anonymous.get("/admin/mentors").headers["Location"].startswith("/login")
    assert anonymous.get("/api/v1/admin/mentors/pending").status_code == 401


def test_admin_sees_pending_mentors_with_documents(admin, pending_mentor):
    mentor, _ = pending_mentor
    queue = admin.get("/api/v1/admin/mentors/pending").json["mentors"]
    assert [m["user_id"] for m in queue] == [mentor.id]
    assert queue[0]["certifications"][0]["document_url"].startswith("/media/")
    page = admin.get("/admin/mentors").get_data(as_text=True)
    assert "Mara Mentor" in page and "PhD Statistics" in page and ">document</a>" in page
    assert admin.get(queue[0]["certifications"][0]["document_url"]).status_code == 200


@pytest.mark.db
def test_approval_makes_the_mentor_visible_and_tells_them(app, admin, pending_mentor, settings):
    mentor, mentor_client = pending_mentor
    token = form_token(admin.client, "/admin/mentors")
    response = admin.client.post(f"/admin/mentors/{mentor.id}/approve", data={"csrf_token": token})
    assert response.status_code == 302
    assert JsonClient(app.test_client()).get(f"/api/v1/mentors/{mentor.id}").status_code == 200
    mail = outbox(settings, "email", "mentor_review")[-1]
    assert mail["to"] == "mara@example.com" and "approved" in mail["subject"]
    assert "Approved" in mentor_client.get("/mentor/profile").get_data(as_text=True)
    assert admin.post(f"/api/v1/admin/mentors/{mentor.id}/approve").status_code == 409
    assert admin.get("/api/v1/admin/mentors/pending").json["mentors"] == []


@pytest.mark.db
def test_rejection_needs_a_reason_which_the_mentor_sees_and_can_resubmit(admin, pending_mentor, settings):
    mentor, mentor_client = pending_mentor
    no_reason = admin.post(f"/api/v1/admin/mentors/{mentor.id}/reject", json={"reason": ""})
    assert no_reason.status_code == 400 and "reason" in no_reason.json["error"]["fields"]
    token = form_token(admin.client, "/admin/mentors")
    admin.client.post(f"/admin/mentors/{mentor.id}/reject",
                      data={"csrf_token": token, "reason": "Please add your certification number."})
    assert mentor_client.get("/api/v1/profile/mentor").json["status"] == "rejected"
    mail = outbox(settings, "email", "mentor_review")[-1]
    assert "Please add your certification number." in mail["body"]
    page = mentor_client.get("/mentor/profile").get_data(as_text=True)
    assert "Please add your certification number." in page and "Resubmit for review" in page
    resubmitted = mentor_client.put("/api/v1/profile/mentor", json={"bio": "Certificate no. 12345"})
    assert resubmitted.json["status"] == "pending" and resubmitted.json["status_reason"] is None
    assert [m["user_id"] for m in admin.get("/api/v1/admin/mentors/pending").json["mentors"]] == [mentor.id]


def test_unknown_mentor_is_404(admin):
    assert admin.post("/api/v1/admin/mentors/9999/approve").status_code == 404
