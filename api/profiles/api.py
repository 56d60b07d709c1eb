"""JSON API of profiles under /api/v1/profile (and public mentor pages under /api/v1/mentors)."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, File, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from flask import abort
from flask_login import current_user

from api.auth.accounts import FieldError
from api.auth.decorators import auth_required
from api.errors import error_response
from api.profiles import service, uploads
from api.profiles.upgrade import may_become_mentor, upgrade_status

api_bp = APIBlueprint("profiles_api", __name__, url_prefix="/api/v1", tag="Profiles")


def field_error(error: FieldError, status: int = 400):
    return error_response(status, error.message, {error.field: error.message})


def upload_error(error: uploads.UploadError):
    return error_response(400, str(error), {"file": str(error)})


class WindowIn(Schema):
    weekday = Integer(required=True, validate=Range(0, 6))
    start = String(required=True, validate=Length(min=4, max=5))
    end = String(required=True, validate=Length(min=4, max=5))


class ContactIn(Schema):
    full_name = String(validate=Length(min=1, max=120))
    email = String(validate=Length(max=254))  # a change takes effect once the link mailed to it is opened
    current_password = String(validate=Length(max=256))  # needed to change the e-mail address
    phone = String(validate=Length(max=32))
    timezone = String(validate=Length(max=64))


class LearnerContactIn(ContactIn):
    currency = String(validate=Length(max=8))  # the person's currency; checked against the rate table


class LearnerIn(LearnerContactIn):
    topic_ids = List(Integer(), validate=Length(max=50))
    interests = String(validate=Length(max=2000))
    preferred_slots = List(Nested(WindowIn), validate=Length(max=service.MAX_WINDOWS))


class MentorIn(ContactIn):
    headline = String(validate=Length(max=200))
    bio = String(validate=Length(max=5000))
    topic_ids = List(Integer(), validate=Length(max=50))
    price_minor = Integer(strict=True, validate=Range(min=1))
    currency = String(validate=Length(max=8))  # checked against the rate table by the service (400 naming it)
    session_minutes = Integer(strict=True, validate=OneOf(service.SESSION_LENGTHS))
    years_experience = Integer(strict=True, validate=Range(0, 70))
    past_roles = List(String(validate=Length(max=200)), validate=Length(max=20))
    languages = List(String(validate=Length(min=2, max=3)), validate=Length(max=service.MAX_LANGUAGES))
    video_url = String(allow_none=True, validate=Length(max=500))
    accepts_questions = Boolean()
    availability = List(Nested(WindowIn), validate=Length(max=service.MAX_WINDOWS))


class PictureIn(Schema):
    file = File(required=True)


class PictureQuery(Schema):
    target = String(load_default="learner", validate=OneOf(["learner", "mentor"]))


class CertificationIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))
    issuer = String(load_default="", validate=Length(max=200))
    year = Integer(allow_none=True, validate=Range(1950, 2100))
    document = File()


class ExceptionIn(Schema):
    on_date = Date(required=True)
    start_time = String(allow_none=True, validate=Length(max=5))
    end_time = String(allow_none=True, validate=Length(max=5))
    note = String(load_default="", validate=Length(max=200))


@api_bp.get("/profile/topics")
def topics():
    """Every topic a profile can name."""
    return {"topics": [service.topic_json(t) for t in service.all_topics()]}


@api_bp.get("/profile/learner")
@auth_required
def get_learner():
    """The logged-in user's learner profile."""
    return service.learner_json(current_user)


@api_bp.put("/profile/learner")
@auth_required
@api_bp.input(LearnerIn, arg_name="data")
def put_learner(data):
    """Update the learner profile (only the fields sent); logged as a profile_update event."""
    user = current_user._get_current_object()
    try:
        service.update_learner_profile(user, data)
    except FieldError as error:
        return field_error(error)
    return service.learner_json(user)


@api_bp.get("/profile/mentor")
@auth_required
def get_mentor():
    """The logged-in user's mentor profile, with its review status and reason."""
    profile = service.mentor_profile(current_user)
    if profile is None:
        return error_response(404, "You have no mentor profile yet.")
    return service.mentor_json(profile, private=True)


@api_bp.put("/profile/mentor")
@auth_required
@api_bp.input(MentorIn, arg_name="data")
def put_mentor(data):
    """Create, update or resubmit the mentor profile; new and rejected profiles go to the approval queue."""
    user = current_user._get_current_object()
    if not may_become_mentor(user):
        return error_response(403, "Your account does not meet the criteria to become a mentor yet.",
                              {"account": "not eligible"})
    try:
        profile = service.save_mentor_profile(user, data)
    except FieldError as error:
        return field_error(error)
    return service.mentor_json(profile, private=True)


@api_bp.post("/profile/picture")
@auth_required
@uploads.upload_limit("picture")
@api_bp.input(PictureQuery, location="query", arg_name="query")
@api_bp.input(PictureIn, location="files", arg_name="files")
def post_picture(query, files):
    """Upload a profile picture (multipart field `file`); it is re-encoded and resized."""
    user = current_user._get_current_object()
    target = query["target"]
    profile = service.picture_profile(user, target)
    if profile is None:
        return error_response(404, "You have no mentor profile yet.")
    try:
        upload = service.set_picture(user, profile, target, files["file"])
    except uploads.UploadError as error:
        return upload_error(error)
    return {"picture_url": service.media_url(upload.stored_name), "content_type": upload.content_type}, 201


@api_bp.post("/profile/mentor/video")
@auth_required
@uploads.upload_limit("video")
@api_bp.input(PictureIn, location="files", arg_name="files")
def post_video(files):
    """Upload an introduction video (MP4 or WebM, multipart field `file`)."""
    profile = service.mentor_profile(current_user)
    if profile is None:
        return error_response(404, "You have no mentor profile yet.")
    try:
        upload = service.set_video(profile, files["file"])
    except uploads.UploadError as error:
        return upload_error(error)
    return {"video_upload_url": service.media_url(upload.stored_name), "content_type": upload.content_type}, 201


@api_bp.post("/profile/mentor/certifications")
@auth_required
@uploads.upload_limit("document")
@api_bp.input(CertificationIn, location="form_and_files", arg_name="data")
def post_certification(data):
    """Add a certification, optionally with its document (PDF, JPEG or PNG; only admins and you see it)."""
    profile = service.mentor_profile(current_user)
    if profile is None:
        return error_response(404, "You have no mentor profile yet.")
    try:
        cert = service.add_certification(profile, data, data.get("document"))
    except FieldError as error:
        return field_error(error)
    except uploads.UploadError as error:
        return error_response(400, str(error), {"document": str(error)})
    return {"id": cert.id, "name": cert.name, "issuer": cert.issuer, "year": cert.year,
            "document_url": service.media_url(cert.document_path)}, 201


@api_bp.delete("/profile/mentor/certifications/<int:cert_id>")
@auth_required
def delete_certification(cert_id: int):
    """Remove one of your certifications."""
    cert = service.own_certification(current_user.id, cert_id)
    if cert is None:
        abort(404)
    service.delete_certification(cert)
    return "", 204


@api_bp.post("/profile/mentor/exceptions")
@auth_required
@api_bp.input(ExceptionIn, arg_name="data")
def post_exception(data):
    """Add a date when the weekly hours do not apply (a day off, or other hours)."""
    profile = service.mentor_profile(current_user)
    if profile is None:
        return error_response(404, "You have no mentor profile yet.")
    try:
        exception = service.add_exception(profile, data)
    except FieldError as error:
        return field_error(error)
    return {"id": exception.id, "on_date": exception.on_date.isoformat()}, 201


@api_bp.delete("/profile/mentor/exceptions/<int:exception_id>")
@auth_required
def delete_exception(exception_id: int):
    """Remove one of your availability exceptions."""
    exception = service.own_exception(current_user.id, exception_id)
    if exception is None:
        abort(404)
    service.delete_exception(exception)
    return "", 204


@api_bp.get("/profile/upgrade")
@auth_required
def get_upgrade():
    """Whether the learner may become a mentor, criterion by criterion."""
    return upgrade_status(current_user)


@api_bp.get("/mentors/<int:user_id>")
def get_public_mentor(user_id: int):
    """A mentor's public profile: approved mentors only (owners and admins also see pending ones)."""
    profile = service.mentor_profile(user_id)
    if not service.can_see_mentor(profile, current_user):
        return error_response(404, "No such mentor.")
    return service.mentor_json(profile, private=False)
