"""JSON API of accounts under /api/v1/auth (the session cookie authenticates; CSRF in X-CSRFToken)."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Email, Integer, List, String
from apiflask.validators import Length, OneOf
from flask_login import current_user
from marshmallow import ValidationError

from api.auth import accounts, throttle, twofactor
from api.auth.accounts import FieldError
from api.auth.decorators import auth_required
from api.auth.validation import check_full_name, normalise_email, normalise_phone
from api.errors import error_response
from api.tables import Role

api_bp = APIBlueprint("auth_api", __name__, url_prefix="/api/v1/auth", tag="Accounts")


def _uses(check):
    def _validator(value):
        try:
            check(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    return _validator


def field_error(error: FieldError, status: int = 400):
    return error_response(status, error.message, {error.field: error.message})


class SignupIn(Schema):
    email = String(required=True, validate=_uses(normalise_email))
    phone = String(required=True, validate=_uses(normalise_phone))
    password = String(required=True, validate=Length(max=128))
    full_name = String(required=True, validate=_uses(check_full_name))
    role = String(load_default="learner", validate=OneOf(accounts.SIGNUP_ROLES))


class LoginIn(Schema):
    email = String(required=True, validate=Length(max=254))
    password = String(required=True, validate=Length(max=256))
    totp_code = String(load_default=None, validate=Length(max=7))  # admins: the authenticator app's code


class EmailIn(Schema):
    email = Email(required=True)


class TokenIn(Schema):
    token = String(required=True, validate=Length(min=10, max=1000))


class ResetIn(Schema):
    token = String(required=True, validate=Length(min=10, max=1000))
    new_password = String(required=True, validate=Length(max=128))


class ChangePasswordIn(Schema):
    current_password = String(required=True, validate=Length(max=256))
    new_password = String(required=True, validate=Length(max=128))


class CodeIn(Schema):
    code = String(required=True, validate=Length(min=6, max=7))


class PhoneIn(Schema):
    phone = String(required=True, validate=_uses(normalise_phone))


class UserOut(Schema):
    id = Integer()
    email = String()
    phone = String(allow_none=True)
    full_name = String()
    timezone = String()
    roles = List(String())
    email_verified = Boolean()
    phone_verified = Boolean()
    verified = Boolean()


class MessageOut(Schema):
    message = String()


def user_json(user) -> dict:
    return {
        "id": user.id, "email": user.email, "phone": user.phone, "full_name": user.full_name,
        "timezone": user.timezone, "roles": sorted(user.role_names),
        "email_verified": user.email_verified_at is not None, "phone_verified": user.phone_verified_at is not None,
        "verified": accounts.is_verified(user),
    }


@api_bp.post("/signup")
@throttle.signup_per_ip
@api_bp.input(SignupIn, arg_name="data")
@api_bp.output(MessageOut, status_code=202)
def signup(data):
    """Start a sign-up: the answer is the same whether or not the address has an account (a new one gets the
    verification link, which logs in; a registered one gets a note to its owner)."""
    try:
        message = accounts.sign_up(**data)
    except FieldError as error:
        return field_error(error)
    return {"message": message}, 202


@api_bp.post("/login")
@api_bp.input(LoginIn, arg_name="data")
@api_bp.output(UserOut)
def login(data):
    """Log in with e-mail and password; the response sets a new session cookie."""
    user = accounts.check_login(data["email"], data["password"])  # counted first (429 beyond the limits)
    if user is None:
        return error_response(401, "The e-mail address or password is not correct.",
                              {"password": "The e-mail address or password is not correct."})
    if user.has_role(Role.ADMIN):  # admins: TOTP two-factor (api/auth/twofactor.py)
        if not twofactor.is_enrolled(user):
            return error_response(403, "Set up two-factor sign-in first: log in on the web at /login.",
                                  {"totp_code": "not enrolled"})
        if not twofactor.verify_code(user, data.get("totp_code")):  # counted per account (429 when locked)
            return error_response(401, "Enter the current 6-digit code from your authenticator app.",
                                  {"totp_code": "missing or not correct"})
        twofactor.start_admin_session(user)
        return user_json(user)
    accounts.start_session(user)
    return user_json(user)


@api_bp.post("/logout")
@auth_required
@api_bp.output(MessageOut)
def logout():
    """End this session and every other session of the account."""
    accounts.log_out(current_user._get_current_object())
    return {"message": "logged out"}


@api_bp.get("/me")
@auth_required
@api_bp.output(UserOut)
def me():
    """The logged-in account."""
    return user_json(current_user)


@api_bp.post("/verify/email")
@api_bp.input(TokenIn, arg_name="data")
@api_bp.output(MessageOut)
def verify_email(data):
    """Verify the e-mail address with the token from the link; a sign-up's link also logs in."""
    try:
        user, changed = accounts.verify_email_token(data["token"])
    except FieldError as error:
        return field_error(error)
    if changed:
        return {"message": "e-mail address changed"}
    accounts.after_sign_up_verified(user)
    return {"message": "e-mail verified"}


@api_bp.post("/verify/email/resend")
@auth_required
@api_bp.output(MessageOut)
def resend_email():
    """Send the verification link again (a few times an hour per account)."""
    if current_user.email_verified_at:
        return {"message": "already verified"}
    if not accounts.send_verification_email(current_user):
        return error_response(503, "The e-mail could not be sent; try again in a minute.")
    return {"message": "sent"}


@api_bp.post("/verify/phone/send")
@auth_required
@api_bp.output(MessageOut)
def send_phone_code():
    """Text a new 6-digit code to the account's phone (a few times an hour per account, whatever the number)."""
    try:
        accounts.send_phone_code(current_user)
    except FieldError as error:
        return field_error(error)
    return {"message": "sent"}


@api_bp.post("/verify/phone")
@auth_required
@api_bp.input(CodeIn, arg_name="data")
@api_bp.output(MessageOut)
def verify_phone(data):
    """Verify the phone with the code from the text message."""
    try:
        accounts.verify_phone(current_user, data["code"])
    except FieldError as error:
        return field_error(error)
    return {"message": "phone verified"}


@api_bp.put("/phone")
@auth_required
@api_bp.input(PhoneIn, arg_name="data")
@api_bp.output(UserOut)
def change_phone(data):
    """Change the phone number (it must be verified again) and text a code to it (counted per account)."""
    user = current_user._get_current_object()
    accounts.change_phone(user, data["phone"])  # counted before anything changes (429 beyond the limit)
    return user_json(user)


@api_bp.post("/password/forgot")
@throttle.reset_per_ip
@api_bp.input(EmailIn, arg_name="data")
@api_bp.output(MessageOut, status_code=202)
def forgot_password(data):
    """E-mail a reset link if the account exists (the answer is the same either way)."""
    user = accounts.find_by_email(data["email"])
    if user is not None and user.is_active:
        accounts.send_reset_email(user)
    return {"message": "If an account uses that address, a reset link is on its way."}, 202


@api_bp.post("/password/reset")
@api_bp.input(ResetIn, arg_name="data")
@api_bp.output(MessageOut)
def reset_password(data):
    """Choose a new password with the token from the reset link; every session ends."""
    try:
        user = accounts.user_for_reset(data["token"])
        accounts.set_password(user, data["new_password"])
    except FieldError as error:
        return field_error(error)
    return {"message": "password changed"}


@api_bp.post("/password/change")
@auth_required
@api_bp.input(ChangePasswordIn, arg_name="data")
@api_bp.output(UserOut)
def change_password(data):
    """Change the password; other sessions end, this one is renewed."""
    user = current_user._get_current_object()
    try:
        accounts.change_password(user, data["current_password"], data["new_password"])
    except FieldError as error:
        return field_error(error)
    accounts.start_session(user)
    return user_json(user)
