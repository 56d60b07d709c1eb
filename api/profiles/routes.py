"""Web pages: the learner profile, the mentor profile (and its uploads), public mentor pages, media."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from wtforms import SelectChoice

from api.auth.accounts import FieldError
from api.auth.decorators import auth_required
from api.auth.forms import ConfirmForm
from api.profiles import service, uploads
from api.profiles.forms import (
    CertificationForm,
    ExceptionForm,
    LearnerProfileForm,
    MentorProfileForm,
    PictureForm,
    VideoForm,
    fill_windows,
    windows_from,
)
from api.profiles.media import viewable_upload
from api.profiles.upgrade import may_become_mentor, upgrade_status
from api.tables import MentorStatus, Role

bp = Blueprint("profiles", __name__)


def _attach(form, error: FieldError, aliases: dict | None = None) -> None:
    name = (aliases or {}).get(error.field, error.field)
    field = getattr(form, name, None) if form is not None else None
    if field is not None:
        field.errors = list(field.errors or []) + [error.message]
    else:
        flash(error.message, "error")


def _email_change_note() -> None:
    if g.get("email_change_sent_to"):
        flash(f"We sent a link to {g.email_change_sent_to}: your account uses the new address once you open it.",
              "info")


def _topic_choices():
    return [SelectChoice(t.id, t.name) for t in service.all_topics()]


def _topic_groups():
    groups: dict[str, list] = {}
    for topic in service.all_topics():
        groups.setdefault(topic.category, []).append(topic)
    return groups


# --- learner ------------------------------------------------------------------------------------

@bp.route("/profile", methods=["GET", "POST"])
@auth_required
def learner():
    user = current_user._get_current_object()
    profile = service.learner_profile(user)
    form = LearnerProfileForm()
    form.topic_ids.choices = _topic_choices()
    status = 200
    if request.method == "GET":
        _fill_learner_form(form, user, profile)
    elif form.validate_on_submit():
        try:
            service.update_learner_profile(user, _learner_data(form))
        except FieldError as error:
            _attach(form, error)
            status = 400
        else:
            flash("Your profile is saved.", "success")
            _email_change_note()
            return redirect(url_for("profiles.learner"))
    else:
        status = 400
    return render_template("profiles/learner.html", form=form, profile=profile, topic_groups=_topic_groups(),
                           picture_form=PictureForm(target="learner"), upgrade=_upgrade_hint(user)), status


def _fill_contact(form, user) -> None:
    form.full_name.data, form.email.data, form.phone.data = user.full_name, user.email, user.phone
    form.timezone.data = user.timezone
    form.currency.data = user.currency


def _contact_data(form) -> dict:
    return {"full_name": form.full_name.data, "email": form.email.data, "phone": form.phone.data,
            "current_password": form.current_password.data, "timezone": form.timezone.data}


def _fill_learner_form(form, user, profile) -> None:
    _fill_contact(form, user)
    form.topic_ids.data = [t.id for t in profile.topics] if profile else []
    form.interests.data = profile.interests if profile else ""
    fill_windows(form.preferred_slots, profile.preferred_slots if profile else [])


def _learner_data(form) -> dict:
    return {**_contact_data(form), "currency": form.currency.data or None, "topic_ids": form.topic_ids.data or [],
            "interests": form.interests.data, "preferred_slots": windows_from(form.preferred_slots)}


def _upgrade_hint(user):
    if user.has_role(Role.MENTOR):
        return None
    return upgrade_status(user)


@bp.post("/profile/picture")
@auth_required
@uploads.upload_limit("picture")
def upload_picture():
    form = PictureForm()
    if not form.validate_on_submit():
        return redirect(url_for("profiles.learner"))
    user = current_user._get_current_object()
    target = "mentor" if form.target.data == "mentor" else "learner"
    profile = service.picture_profile(user, target)
    if profile is None:
        flash("Save your mentor profile first, then add a picture.", "error")
        return redirect(url_for("profiles.mentor"))
    try:
        service.set_picture(user, profile, target, form.picture.data)
    except uploads.UploadError as error:
        flash(str(error), "error")
    else:
        flash("Your picture is updated.", "success")
    return redirect(url_for(f"profiles.{target}"))


# --- mentor -------------------------------------------------------------------------------------

@bp.route("/mentor/profile", methods=["GET", "POST"])
@auth_required
def mentor():
    user = current_user._get_current_object()
    if not may_become_mentor(user):
        return redirect(url_for("profiles.upgrade"))
    profile = service.mentor_profile(user)
    form = MentorProfileForm()
    form.topic_ids.choices = _topic_choices()
    status = 200
    if request.method == "GET":
        _fill_mentor_form(form, user, profile)
    elif form.validate_on_submit():
        try:
            service.save_mentor_profile(user, _mentor_data(form, user, profile))
        except FieldError as error:
            _attach(form, error, {"price_minor": "price"})
            status = 400
        else:
            flash("Your mentor profile is submitted for review." if profile is None
                  else "Your mentor profile is saved.", "success")
            _email_change_note()
            return redirect(url_for("profiles.mentor"))
    else:
        status = 400
    return render_template(
        "profiles/mentor.html", form=form, profile=profile, topic_groups=_topic_groups(),
        picture_form=PictureForm(target="mentor"), video_form=VideoForm(), cert_form=CertificationForm(),
        exception_form=ExceptionForm(), confirm_form=ConfirmForm(),
        exceptions=service.exceptions_of(profile) if profile else [], statuses=MentorStatus,
        format_price=service.format_price,
    ), status


def _fill_mentor_form(form, user, profile) -> None:
    _fill_contact(form, user)
    if profile is None:
        fill_windows(form.availability, [], blank_rows=5)
        return
    form.headline.data, form.bio.data = profile.headline, profile.bio
    form.topic_ids.data = [t.id for t in profile.topics]
    form.languages.data = list(profile.languages or [])
    form.currency.data = profile.currency
    form.price.data = service.price_text(profile.price_minor, profile.currency)
    form.session_minutes.data = profile.session_minutes
    form.years_experience.data = profile.years_experience
    form.past_roles.data = "\n".join(profile.past_roles or [])
    form.video_url.data = profile.video_url
    form.accepts_questions.data = profile.accepts_questions
    windows = service.windows_json((r.weekday, r.start_time, r.end_time) for r in profile.availability)
    fill_windows(form.availability, windows, blank_rows=3 if windows else 5)


def _mentor_data(form, user, profile) -> dict:
    """The form as the service's data: the typed price becomes minor units of the chosen currency."""
    currency = service.check_currency(form.currency.data or (profile.currency if profile else user.currency))
    if not (form.price.data or "").strip():
        raise FieldError("price", "Set a price per session.")
    return {
        **_contact_data(form), "headline": form.headline.data, "bio": form.bio.data,
        "topic_ids": form.topic_ids.data or [], "languages": form.languages.data or [], "currency": currency,
        "price_minor": service.parse_price(form.price.data, currency),
        "session_minutes": form.session_minutes.data, "years_experience": form.years_experience.data or 0,
        "past_roles": (form.past_roles.data or "").splitlines(), "video_url": form.video_url.data,
        "accepts_questions": form.accepts_questions.data, "availability": windows_from(form.availability),
    }


def _own_mentor_profile():
    profile = service.mentor_profile(current_user.id)
    if profile is None:
        flash("Save your mentor profile first.", "error")
    return profile


@bp.post("/mentor/video")
@auth_required
@uploads.upload_limit("video")
def upload_video():
    form = VideoForm()
    profile = _own_mentor_profile()
    if profile is None or not form.validate_on_submit():
        return redirect(url_for("profiles.mentor"))
    try:
        service.set_video(profile, form.video.data)
    except uploads.UploadError as error:
        flash(str(error), "error")
    else:
        flash("Your introduction video is uploaded.", "success")
    return redirect(url_for("profiles.mentor"))


@bp.post("/mentor/video/remove")
@auth_required
def remove_video():
    profile = _own_mentor_profile()
    if profile is not None and ConfirmForm().validate_on_submit():
        service.remove_video(profile)
        flash("The video is removed.", "success")
    return redirect(url_for("profiles.mentor"))


def _flash_form_errors(form) -> None:
    for problems in form.errors.values():
        flash(" ".join(problems), "error")


@bp.post("/mentor/certifications")
@auth_required
@uploads.upload_limit("document")
def add_certification():
    form = CertificationForm()
    profile = _own_mentor_profile()
    if profile is None:
        return redirect(url_for("profiles.mentor"))
    if not form.validate_on_submit():
        _flash_form_errors(form)
    else:
        document = form.document.data
        if document is not None and not document.filename:
            document = None
        try:
            service.add_certification(profile, {"name": form.name.data, "issuer": form.issuer.data,
                                                "year": form.year.data}, document)
        except (FieldError, uploads.UploadError) as error:
            flash(str(error), "error")
        else:
            flash("Certification added.", "success")
    return redirect(url_for("profiles.mentor") + "#certifications")


@bp.post("/mentor/certifications/<int:cert_id>/delete")
@auth_required
def delete_certification(cert_id: int):
    cert = service.own_certification(current_user.id, cert_id)
    if cert is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        service.delete_certification(cert)
        flash("Certification removed.", "success")
    return redirect(url_for("profiles.mentor") + "#certifications")


@bp.post("/mentor/exceptions")
@auth_required
def add_exception():
    form = ExceptionForm()
    profile = _own_mentor_profile()
    if profile is None:
        return redirect(url_for("profiles.mentor"))
    if not form.validate_on_submit():
        _flash_form_errors(form)
    else:
        try:
            service.add_exception(profile, {"on_date": form.on_date.data, "start_time": form.start_time.data,
                                            "end_time": form.end_time.data, "note": form.note.data})
        except FieldError as error:
            flash(error.message, "error")
        else:
            flash("Exception added.", "success")
    return redirect(url_for("profiles.mentor") + "#exceptions")


@bp.post("/mentor/exceptions/<int:exception_id>/delete")
@auth_required
def delete_exception(exception_id: int):
    exception = service.own_exception(current_user.id, exception_id)
    if exception is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        service.delete_exception(exception)
        flash("Exception removed.", "success")
    return redirect(url_for("profiles.mentor") + "#exceptions")


@bp.get("/become-a-mentor")
@auth_required
def upgrade():
    status = upgrade_status(current_user)
    return render_template("profiles/upgrade.html", status=status)


@bp.get("/mentors/<int:user_id>")
def public_mentor(user_id: int):
    """A mentor's public page: approved mentors only (owners and admins also see pending ones).

    An approved mentor's complete profile (Book and Message buttons, free slots, reviews) is search's preview
    page, so this address (the one approval e-mails link to) redirects there."""
    profile = service.mentor_profile(user_id)
    if not service.can_see_mentor(profile, current_user):
        abort(404)
    if profile.status == MentorStatus.APPROVED:
        return redirect(url_for("search.preview_page", mentor_id=user_id))
    return render_template("profiles/mentor_public.html", profile=profile,
                           mentor=service.mentor_json(profile, private=False), language_names=service.LANGUAGES)


# --- media --------------------------------------------------------------------------------------

@bp.get("/media/<name>")
def media(name: str):
    """An uploaded file, if the viewer may see it; never sniffed or run by the browser."""
    upload = viewable_upload(name, current_user)
    if upload is None:
        abort(404)
    path = uploads.upload_path(upload.stored_name)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=upload.content_type, conditional=True, max_age=300,
                         as_attachment=upload.content_type == "application/pdf",
                         download_name=f"document{uploads.EXTENSIONS[upload.content_type]}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


