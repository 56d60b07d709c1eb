"""Web forms of the profiles (Flask-WTF, CSRF on each)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    SelectChoice,
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    URLField,
)
from wtforms.validators import InputRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from api.auth.validation import time_zone_choices
from api.money import supported_currencies
from api.profiles.service import LANGUAGES, SESSION_LENGTHS, WEEKDAYS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False, html_tag="ul")
    option_widget = CheckboxInput()


class WindowForm(Form):
    """One weekly window; a row left blank is ignored."""

    weekday = SelectField("Day", choices=[SelectChoice("", "—")] + [SelectChoice(str(i), d) for i, d in enumerate(WEEKDAYS)],
                          validators=[Optional()])
    start = StringField("From", validators=[Optional()], render_kw={"type": "time"})
    end = StringField("To", validators=[Optional()], render_kw={"type": "time"})


def windows_from(rows) -> list[dict]:
    return [{"weekday": r.weekday.data, "start": r.start.data, "end": r.end.data}
            for r in rows if r.weekday.data not in (None, "") or r.start.data or r.end.data]


def fill_windows(field_list, windows: list[dict], blank_rows: int = 3) -> None:
    while len(field_list.entries):
        field_list.pop_entry()
    for window in windows:
        field_list.append_entry({"weekday": str(window["weekday"]), "start": window["start"], "end": window["end"]})
    for _ in range(blank_rows):
        field_list.append_entry()


class ContactFields(FlaskForm):
    full_name = StringField("Full name", render_kw={"autocomplete": "name"})
    email = EmailField("E-mail address", render_kw={"autocomplete": "email"},
                       description="Changing it means confirming the new address; until then the old one stays.")
    current_password = PasswordField("Current password (only to change the e-mail address)",
                                     render_kw={"autocomplete": "current-password"})
    phone = TelField("Mobile phone", render_kw={"autocomplete": "tel"},
                     description="International format, e.g. +44 7700 900123. Changing it means a new code.")
    timezone = SelectField("Time zone", choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(z, z.replace("_", " ")) for z in time_zone_choices()]
        if hasattr(self, "currency"):
            _currency_choices(self.currency)


class CurrencyField(SelectField):
    """The person's currency: the supported ones (the rate table), read when the form is built. Left out of a
    post, it stays as it is; a code that is not supported is refused by the service (an error on this field)."""

    def __init__(self, label="Currency", **kwargs):
        super().__init__(label, choices=[], validate_choice=False, **kwargs)


def _currency_choices(field) -> None:
    field.choices = [SelectChoice(c, c) for c in supported_currencies()]


class LearnerProfileForm(ContactFields):
    currency = CurrencyField("Your currency", description="Prices are shown and charged in it.")

    topic_ids = MultiCheckboxField("Topics you want to learn", coerce=int, choices=[])
    interests = TextAreaField("What would you like to learn?", render_kw={"rows": 4, "maxlength": 2000},
                              description="A few words on your goals help us recommend the right mentors.")
    preferred_slots = FieldList(FormField(WindowForm), label="When are you usually free?", min_entries=0)


class MentorProfileForm(ContactFields):
    headline = StringField("Headline", render_kw={"maxlength": 200},
                           description="One line learners see first, e.g. “Senior data scientist, 8 years in fintech”.")
    bio = TextAreaField("About you", render_kw={"rows": 6, "maxlength": 5000},
                        description="Your experience and how you run a session.")
    topic_ids = MultiCheckboxField("Topics you teach", coerce=int, choices=[])
    languages = MultiCheckboxField("Languages you speak", choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()],
                                   description="Learners can filter mentors by the language of the session.")
    price = StringField("Price per session", render_kw={"inputmode": "decimal"}, description="e.g. 45 or 45.50")
    currency = CurrencyField("Your currency", description="Your price is in it; you see your earnings in it too.")
    session_minutes = SelectField("Session length", coerce=int, default=60,
                                  choices=[SelectChoice(m, f"{m} minutes") for m in SESSION_LENGTHS])
    years_experience = IntegerField("Years of experience", validators=[Optional(), NumberRange(0, 70)], default=0)
    past_roles = TextAreaField("Past roles", render_kw={"rows": 4},
                               description="One a line, e.g. “Lead engineer at Acme (2018–2023)”.")
    video_url = URLField("Introduction video link (optional)", validators=[Optional()],
                         description="A YouTube or Vimeo https:// link, or upload a video below.")
    accepts_questions = BooleanField("Learners may message me before booking")
    availability = FieldList(FormField(WindowForm), label="Weekly availability", min_entries=0)


class PictureForm(FlaskForm):
    target = HiddenField(default="learner")
    picture = FileField("Profile picture", description="JPEG, PNG, GIF or WebP, up to 5 MB. We resize it.",
                        render_kw={"accept": "image/jpeg,image/png,image/gif,image/webp"})


class VideoForm(FlaskForm):
    video = FileField("Introduction video file", description="MP4 or WebM, up to 25 MB.",
                      render_kw={"accept": "video/mp4,video/webm,video/quicktime"})


class CertificationForm(FlaskForm):
    name = StringField("Certification", validators=[InputRequired("Give the certification's name.")])
    issuer = StringField("Issued by")
    year = IntegerField("Year", validators=[Optional()])
    document = FileField("Document (optional)", description="PDF, JPEG or PNG, up to 10 MB. Only admins see it.",
                         render_kw={"accept": "application/pdf,image/jpeg,image/png"})


class ExceptionForm(FlaskForm):
    on_date = DateField("Date", validators=[InputRequired("Choose the date.")])
    start_time = StringField("From (leave empty for a day off)", render_kw={"type": "time"})
    end_time = StringField("To", render_kw={"type": "time"})
    note = StringField("Note", render_kw={"maxlength": 200})
