"""Web pages of accounts: sign-up, log-in/out, verification, forgotten and changed passwords."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from api.auth import accounts, bp, throttle
from api.auth.accounts import FieldError
from api.auth.limits import LimitReached
from api.auth.forms import (
    ChangePasswordForm,
    ConfirmForm,
    ForgotPasswordForm,
    LoginForm,
    PhoneCodeForm,
    PhoneNumberForm,
    ResetPasswordForm,
    SignupForm,
)
from api.auth.validation import normalise_phone
from api.extensions import db
from api.redirects import safe_next
from api.tables import Role


def home_for(user) -> str:
    """Where a user lands after log-in: admins at the queue, mentors at their profile, learners at theirs."""
    if user.has_role(Role.ADMIN):
        return url_for("admin.queue")
    if user.has_role(Role.MENTOR) and not user.has_role(Role.LEARNER):
        return url_for("profiles.mentor")
    return url_for("profiles.learner")


def _field_error(form, error: FieldError) -> None:
    field = getattr(form, error.field, None)
    if field is not None:
        field.errors = list(field.errors) + [error.message]
    else:
        flash(error.message, "error")


@bp.route("/signup", methods=["GET", "POST"])
@throttle.signup_per_ip
def signup():
    role = request.values.get("role", "learner")
    if role not in accounts.SIGNUP_ROLES:
        role = "learner"
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_for(current_user))
    form = SignupForm(role=role)
    if form.validate_on_submit():
        try:
            message = accounts.sign_up(email=form.email.data, phone=form.phone.data, password=form.password.data,
                                       full_name=form.full_name.data, role=form.role.data)
        except FieldError as error:
            _field_error(form, error)
        else:  # the same answer whether or not the address has an account
            flash(message, "success")
            return redirect(url_for("auth.login"))
    status = 400 if form.errors else 200
    return render_template("auth/signup.html", form=form, role=form.role.data or role), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        attempt = throttle.begin_login(form.email.data)  # counted before the password is checked (429 beyond)
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors = ["The e-mail address or password is not correct."]
            return render_template("auth/login.html", form=form), 401
        attempt.succeeded()
        if user.has_role(Role.ADMIN):  # admins: no session until the TOTP code step (api/admin/twofactor.py)
            from api.admin.twofactor import begin_second_step

            return begin_second_step(user, safe_next(form.next.data))
        accounts.start_session(user)
        return redirect(safe_next(form.next.data) or home_for(user))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_for(current_user))
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.route("/login/link/<token>", methods=["GET", "POST"])
def sign_in_link(token: str):
    """The one-time link mailed to the owner of a locked account: GET shows a button, POST logs in."""
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            user = accounts.use_sign_in_link(token)
        except FieldError as error:
            return render_template("auth/sign_in_link.html", form=None, error=error.message), 400
        if user.has_role(Role.ADMIN):
            from api.admin.twofactor import begin_second_step

            return begin_second_step(user)
        accounts.start_session(user)
        flash("You are logged in; every other session of your account has ended.", "success")
        return redirect(home_for(user))
    return render_template("auth/sign_in_link.html", form=form, error=None)


@bp.app_errorhandler(LimitReached)
def limit_reached(error: LimitReached):
    """Too many attempts, anywhere: 429 with Retry-After (JSON naming the field, or the error page)."""
    from api.errors import error_response

    response = error_response(429, error.message, {error.field: error.message} if error.field else {})
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@bp.post("/logout")
def logout():
    form = ConfirmForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        accounts.log_out(current_user._get_current_object())
    flash("You are logged out.", "success")
    return redirect(url_for("core.landing"))


@bp.get("/verify")
@login_required
def verify():
    return render_template("auth/verify.html", confirm_form=ConfirmForm(), code_form=PhoneCodeForm(),
                           phone_form=PhoneNumberForm(phone=current_user.phone or ""),
                           verified=accounts.is_verified(current_user))


@bp.post("/verify/email/resend")
@login_required
def resend_email():
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            if current_user.email_verified_at:
                flash("Your e-mail address is already verified.", "success")
            elif accounts.send_verification_email(current_user):
                flash(f"We sent a new link to {current_user.email}.", "success")
            else:
                flash("We could not send the e-mail just now; please try again in a minute.", "error")
        except LimitReached as error:
            flash(error.message, "error")
    return redirect(url_for("auth.verify"))


@bp.route("/verify/email/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    """GET shows a confirm button (links must not change state); POST verifies."""
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            user, changed = accounts.verify_email_token(token)
        except FieldError as error:
            return render_template("auth/verify_email.html", form=None, error=error.message), 400
        if changed:
            flash(f"Thank you: your account now uses {user.email}.", "success")
        else:  # a sign-up's link proves the mailbox: it logs in (and texts the phone code)
            accounts.after_sign_up_verified(user)
            flash("Thank you: your e-mail address is verified.", "success")
        if current_user.is_authenticated and current_user.id == user.id:
            return redirect(home_for(user))
        return redirect(url_for("auth.login"))
    return render_template("auth/verify_email.html", form=form, error=None)


@bp.post("/verify/phone/send")
@login_required
def send_phone_code():
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            accounts.send_phone_code(current_user)
            flash(f"We texted a 6-digit code to {current_user.phone}.", "success")
        except (FieldError, LimitReached) as error:
            flash(error.message, "error")
    return redirect(url_for("auth.verify"))


@bp.post("/verify/phone")
@login_required
def verify_phone():
    form = PhoneCodeForm()
    if form.validate_on_submit():
        try:
            accounts.verify_phone(current_user, form.code.data)
        except FieldError as error:
            form.code.errors = [error.message]
        else:
            flash("Thank you: your phone number is verified.", "success")
            return redirect(url_for("auth.verify"))
    return render_template("auth/verify.html", confirm_form=ConfirmForm(), code_form=form,
                           phone_form=PhoneNumberForm(phone=current_user.phone or ""),
                           verified=accounts.is_verified(current_user)), 400


@bp.post("/account/phone")
@login_required
def change_phone():
    form = PhoneNumberForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        phone = normalise_phone(form.phone.data)
        try:
            throttle.count_sms(user.id)  # per account, before anything changes
        except LimitReached as error:
            flash(error.message, "error")
            return redirect(url_for("auth.verify"))
        if phone != user.phone:
            user.phone = phone
            user.phone_verified_at = None
            db.session.commit()
        accounts.send_phone_code(user, counted=True)
        flash(f"We texted a 6-digit code to {user.phone}.", "success")
        return redirect(url_for("auth.verify"))
    return render_template("auth/verify.html", confirm_form=ConfirmForm(), code_form=PhoneCodeForm(),
                           phone_form=form, verified=accounts.is_verified(current_user)), 400


@bp.route("/password/forgot", methods=["GET", "POST"])
@throttle.reset_per_ip
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user = accounts.find_by_email(form.email.data)
        if user is not None and user.is_active:
            accounts.send_reset_email(user)
        flash("If an account uses that address, we have e-mailed it a link to choose a new password.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form), 400 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = accounts.user_for_reset(token)
    except FieldError as error:
        return render_template("auth/reset.html", form=None, error=error.message), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password(user, form.new_password.data)
        except FieldError as error:
            _field_error(form, error)
        else:
            if user.email_verified_at is None:  # the link reached the inbox: the address works
                from api.tables import utcnow

                user.email_verified_at = utcnow()
                db.session.commit()
            flash("Your password is changed; log in with the new one.", "success")
            if current_user.is_authenticated:
                accounts.log_out(current_user._get_current_object())
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, error=None), 400 if form.errors else 200


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            accounts.change_password(user, form.current_password.data, form.new_password.data)
        except FieldError as error:
            _field_error(form, error)
        else:
            accounts.start_session(user)  # this device stays in; every other session has ended
            flash("Your password is changed; other devices have been logged out.", "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/change_password.html", form=form), 400 if form.errors else 200


@bp.get("/account")
@login_required
def account():
    from api.auth.social import linked_providers, provider_names

    return render_template("auth/account.html", verified=accounts.is_verified(current_user),
                           providers=provider_names(), linked=linked_providers(current_user),
                           confirm_form=ConfirmForm())
