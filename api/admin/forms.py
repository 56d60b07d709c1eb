"""Web forms of the admin panel (Flask-WTF: every form carries a CSRF token)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField


class ReasonForm(FlaskForm):
    """The reason a mentor is told when rejected or suspended."""

    reason = TextAreaField("Reason for the mentor", render_kw={"rows": 3, "maxlength": 2000},
                           description="The mentor sees this and can fix their profile.")


class CodeForm(FlaskForm):
    code = StringField("6-digit code from your authenticator app",
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 7,
                                  "pattern": "[0-9 ]*", "autofocus": True})
