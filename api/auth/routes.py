"""Web pages of accounts: sign-up, log-in/out, verification, forgotten and changed passwords, social log-in."""
from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from api.auth import accounts, social, throttle, twofactor
from api.auth.accounts import FieldError
from api.auth.decorators import auth_required
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
from api.auth.limits import LimitReached
from api.errors import error_response
from api.redirects import safe_next
from api.tables import Role

bp = Blueprint("auth", __name__)
bp.record_once(lambda state: social.init_app(state.app))

logger = logging.getLogger("mentorhub.auth.social")


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
        user = accounts.check_login(form.email.data, form.password.data)  # counted first (429 beyond the limits)
        if user is None:
            form.password.errors = ["The e-mail address or password is not correct."]
            return render_template("auth/login.html", form=form), 401
        if user.has_role(Role.ADMIN):  # admins: no session until the TOTP code step (api/auth/twofactor.py)
            return twofactor.begin_second_step(user, safe_next(form.next.data))
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
            return twofactor.begin_second_step(user)
        accounts.start_session(user)
        flash("You are logged in; every other session of your account has ended.", "success")
        return redirect(home_for(user))
    return render_template("auth/sign_in_link.html", form=form, error=None)


@bp.app_errorhandler(LimitReached)
def limit_reached(error: LimitReached):
    """Too many attempts, anywhere: 429 with Retry-After (JSON naming the field, or the error page)."""
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
@auth_required
def verify():
    return render_template("auth/verify.html", confirm_form=ConfirmForm(), code_form=PhoneCodeForm(),
                           phone_form=PhoneNumberForm(phone=current_user.phone or ""),
                           verified=accounts.is_verified(current_user))


@bp.post("/verify/email/resend")
@auth_required
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
@auth_required
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
@auth_required
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
@auth_required
def change_phone():
    form = PhoneNumberForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            accounts.change_phone(user, form.phone.data)  # counted per account before anything changes
        except LimitReached as error:
            flash(error.message, "error")
            return redirect(url_for("auth.verify"))
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
            accounts.set_password(user, form.new_password.data, mailbox_proven=True)
        except FieldError as error:
            _field_error(form, error)
        else:
            flash("Your password is changed; log in with the new one.", "success")
            if current_user.is_authenticated:
                accounts.log_out(current_user._get_current_object())
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, error=None), 400 if form.errors else 200


@bp.route("/account/password", methods=["GET", "POST"])
@auth_required
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
@auth_required
def account():
    return render_template("auth/account.html", verified=accounts.is_verified(current_user),
                           providers=social.provider_names(), linked=social.linked_providers(current_user),
                           confirm_form=ConfirmForm())


# --- social log-in ------------------------------------------------------------------------------

@bp.get("/login/<provider>")
def social_login(provider: str):
    """Send the browser to the provider (state, PKCE and, for OpenID Connect, a nonce kept in the session)."""
    client = social.client(provider)
    if client is None:
        return error_response(404, f"Log-in with {provider} is not available.")
    role = request.args.get("role", "learner")
    session["social_role"] = role if role in accounts.SIGNUP_ROLES else "learner"
    return client.authorize_redirect(url_for("auth.social_callback", provider=provider, _external=True))


@bp.get("/login/<provider>/callback")
def social_callback(provider: str):
    """The provider sends the browser back here; a GET by the protocol, guarded by state/PKCE/nonce."""
    client = social.client(provider)
    if client is None:
        return error_response(404, f"Log-in with {provider} is not available.")
    label = social.PROVIDER_LABELS[provider]
    try:
        identity = social.fetch_identity(provider, client)
    except Exception as error:  # Authlib and joserfc raise many types: mismatching state, bad signature...
        logger.warning("social log-in failed: %s", type(error).__name__, extra={"provider": provider})
        return error_response(400, f"Log-in with {label} did not work (the answer could not be verified); "
                                   "please try again.")
    user = social.linked_user(provider, identity["subject"])
    if user is not None:
        return _social_log_in(user, label)
    if current_user.is_authenticated:
        social.link(current_user.id, provider, identity["subject"])
        flash(f"Your {label} account is linked: you can log in with it from now on.", "success")
        return redirect(url_for("auth.account"))
    return _social_sign_up(provider, label, identity)


def _social_log_in(user, label: str):
    """Log in the account a provider identity is linked to (admins: the code step first)."""
    if current_user.is_authenticated and current_user.id != user.id:
        flash(f"That {label} account is already linked to another MentorHub account.", "error")
        return redirect(url_for("auth.account"))
    if not user.is_active:
        return error_response(403, "This account is disabled.")
    if user.has_role(Role.ADMIN):  # admins: no session until the TOTP code step
        return twofactor.begin_second_step(user)
    accounts.start_session(user)
    return redirect(home_for(user))


def _social_sign_up(provider: str, label: str, identity: dict):
    role = session.get("social_role", "learner")
    try:
        email = accounts.normalise_email(identity.get("email") or "")
    except ValueError:
        flash(f"Your {label} account did not share an e-mail address; please sign up with e-mail instead.", "error")
        return redirect(url_for("auth.signup", role=role))
    if accounts.email_taken(email):
        flash(f"An account with {email} already exists. Log in with your password, then link {label} "
              "from your account page.", "error")
        return redirect(url_for("auth.login"))
    user = social.create_account(provider, identity, email, role)
    accounts.start_session(user)
    if user.email_verified_at is None:
        accounts.send_verification_email(user)
    flash(f"Welcome to MentorHub! Your account is linked to {label}.", "success")
    return redirect(url_for("auth.verify"))


@bp.post("/account/social/<provider>/unlink")
@auth_required
def social_unlink(provider: str):
    form = ConfirmForm()
    if form.validate_on_submit():
        unlinked = social.unlink(current_user._get_current_object(), provider)
        if unlinked:
            flash(f"{social.PROVIDER_LABELS.get(provider, provider)} is no longer linked.", "success")
        elif unlinked is False:
            flash("Set a password first (use “Forgot password”), or you could not log in any more.", "error")
    return redirect(url_for("auth.account"))


@bp.app_context_processor
def _social_providers():
    """`social_providers` in every template: the configured log-in providers."""
    try:
        return {"social_providers": social.provider_names()}
    except RuntimeError:
        return {"social_providers": []}
