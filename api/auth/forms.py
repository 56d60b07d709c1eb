"""Web forms (Flask-WTF: every form carries a CSRF token)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField, SubmitField, TelField
from wtforms.validators import DataRequired, Length, ValidationError

from api.auth.validation import check_full_name, check_password_strength, normalise_email, normalise_phone


def uses(check):
    """A WTForms validator from one of api.auth.validation's checks."""

    def _validator(form, field):
        try:
            check(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    return _validator


class SignupForm(FlaskForm):
    role = HiddenField(default="learner")
    full_name = StringField("Full name", validators=[uses(check_full_name)],
                            render_kw={"autocomplete": "name"})
    email = EmailField("E-mail address", validators=[uses(normalise_email)],
                       render_kw={"autocomplete": "email"})
    phone = TelField("Mobile phone (with country code)", validators=[uses(normalise_phone)],
                     render_kw={"autocomplete": "tel", "placeholder": "+44 7700 900123"})
    password = PasswordField("Password", validators=[DataRequired("Choose a password.")],
                             render_kw={"autocomplete": "new-password", "minlength": 10},
                             description="At least 10 characters; a few unrelated words work well.")
    submit = SubmitField("Create account")

    def validate_password(self, field):
        try:
            check_password_strength(field.data, email=self.email.data or "", full_name=self.full_name.data or "")
        except ValueError as error:
            raise ValidationError(str(error)) from None


class LoginForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter your e-mail address.")],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()
    submit = SubmitField("Log in")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail address", validators=[uses(normalise_email)], render_kw={"autocomplete": "email"})
    submit = SubmitField("Send me a reset link")


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired("Choose a new password.")],
                                 render_kw={"autocomplete": "new-password", "minlength": 10},
                                 description="At least 10 characters.")
    submit = SubmitField("Set new password")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("New password", validators=[DataRequired("Choose a new password.")],
                                 render_kw={"autocomplete": "new-password", "minlength": 10},
                                 description="At least 10 characters. Other devices will be logged out.")
    submit = SubmitField("Change password")


class ConfirmForm(FlaskForm):
    """A button only: for state changes that start from a link (verification) or a menu (log out)."""

    submit = SubmitField("Confirm")


class PhoneCodeForm(FlaskForm):
    code = StringField("6-digit code", validators=[DataRequired("Enter the 6-digit code."), Length(min=6, max=7)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"})
    submit = SubmitField("Verify phone")


class PhoneNumberForm(FlaskForm):
    phone = TelField("Mobile phone (with country code)", validators=[uses(normalise_phone)],
                     render_kw={"autocomplete": "tel"})
    submit = SubmitField("Save and text me a code")
