"""Social log-in with Google (OpenID Connect) and Facebook (OAuth 2) through Authlib's Flask client.

Authlib checks `state` and PKCE (S256) for both, and the id_token's signature, issuer, audience, expiry
and `nonce` for Google. Accounts are linked by the provider's subject id (SocialAccount), never by e-mail:
an unknown identity whose e-mail is already registered does not get into that account.
"""
from __future__ import annotations

import logging

from authlib.integrations.flask_client import OAuth
from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from api.auth import accounts, bp
from api.auth.forms import ConfirmForm
from api.errors import error_response
from api.extensions import db
from api.tables import Role, SocialAccount, User, UserRole, utcnow

logger = logging.getLogger("mentorhub.auth.social")

PROVIDER_LABELS = {"google": "Google", "facebook": "Facebook"}


def init_app(app) -> None:
    """One Authlib registry per app, with the providers whose client id is set."""
    settings = app.config["MENTORHUB_SETTINGS"]
    oauth = OAuth(app)
    if settings.google_client_id:
        oauth.register(
            "google",
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret,
            server_metadata_url=settings.google_discovery_url,
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )
    if settings.facebook_client_id:
        oauth.register(
            "facebook",
            client_id=settings.facebook_client_id,
            client_secret=settings.facebook_client_secret,
            authorize_url=settings.facebook_authorize_url,
            access_token_url=settings.facebook_token_url,
            userinfo_endpoint=settings.facebook_userinfo_url,
            client_kwargs={"scope": "email public_profile", "code_challenge_method": "S256",
                           "token_endpoint_auth_method": "client_secret_post"},
        )
    app.extensions["mentorhub_oauth"] = oauth


bp.record_once(lambda state: init_app(state.app))


def provider_names() -> list[str]:
    """The providers configured on this app, e.g. ["google", "facebook"]."""
    oauth = current_app.extensions.get("mentorhub_oauth")
    return [name for name in PROVIDER_LABELS if oauth is not None and oauth.create_client(name) is not None]


def linked_providers(user: User) -> set[str]:
    return set(db.session.scalars(select(SocialAccount.provider).where(SocialAccount.user_id == user.id)))


def _client(provider: str):
    oauth = current_app.extensions.get("mentorhub_oauth")
    return oauth.create_client(provider) if oauth is not None and provider in PROVIDER_LABELS else None


@bp.get("/login/<provider>")
def social_login(provider: str):
    """Send the browser to the provider (state, PKCE and, for OpenID Connect, a nonce kept in the session)."""
    client = _client(provider)
    if client is None:
        return error_response(404, f"Log-in with {provider} is not available.")
    role = request.args.get("role", "learner")
    session["social_role"] = role if role in accounts.SIGNUP_ROLES else "learner"
    return client.authorize_redirect(url_for("auth.social_callback", provider=provider, _external=True))


def _identity(provider: str, client) -> dict:
    """The provider's answer as {subject, email, email_verified, name}; raises on any failed check."""
    token = client.authorize_access_token()
    if provider == "google":
        info = token.get("userinfo") or client.userinfo(token=token)
        return {"subject": str(info["sub"]), "email": info.get("email"),
                "email_verified": info.get("email_verified") is True, "name": info.get("name")}
    response = client.get(current_app.config["MENTORHUB_SETTINGS"].facebook_userinfo_url, token=token)
    response.raise_for_status()
    info = response.json()
    return {"subject": str(info["id"]), "email": info.get("email"), "email_verified": False, "name": info.get("name")}


@bp.get("/login/<provider>/callback")
def social_callback(provider: str):
    """The provider sends the browser back here; a GET by the protocol, guarded by state/PKCE/nonce."""
    client = _client(provider)
    if client is None:
        return error_response(404, f"Log-in with {provider} is not available.")
    label = PROVIDER_LABELS[provider]
    try:
        identity = _identity(provider, client)
    except Exception as error:  # Authlib and joserfc raise many types: mismatching state, bad signature...
        logger.warning("social log-in failed: %s", type(error).__name__, extra={"provider": provider})
        return error_response(400, f"Log-in with {label} did not work (the answer could not be verified); "
                                   "please try again.")
    account = db.session.scalar(
        select(SocialAccount).where(SocialAccount.provider == provider, SocialAccount.subject == identity["subject"])
    )
    if account is not None:
        user = db.session.get(User, account.user_id)
        if current_user.is_authenticated and current_user.id != user.id:
            flash(f"That {label} account is already linked to another MentorHub account.", "error")
            return redirect(url_for("auth.account"))
        if not user.is_active:
            return error_response(403, "This account is disabled.")
        from api.tables import Role

        if user.has_role(Role.ADMIN):  # admins: no session until the TOTP code step
            from api.admin.twofactor import begin_second_step

            return begin_second_step(user)
        accounts.start_session(user)
        from api.auth.routes import home_for

        return redirect(home_for(user))
    if current_user.is_authenticated:
        db.session.add(SocialAccount(user_id=current_user.id, provider=provider, subject=identity["subject"]))
        db.session.commit()
        flash(f"Your {label} account is linked: you can log in with it from now on.", "success")
        return redirect(url_for("auth.account"))
    return _sign_up(provider, label, identity)


def _sign_up(provider: str, label: str, identity: dict):
    email = identity.get("email")
    try:
        email = accounts.normalise_email(email or "")
    except ValueError:
        flash(f"Your {label} account did not share an e-mail address; please sign up with e-mail instead.", "error")
        return redirect(url_for("auth.signup", role=session.get("social_role", "learner")))
    if accounts.email_taken(email):
        flash(f"An account with {email} already exists. Log in with your password, then link {label} "
              "from your account page.", "error")
        return redirect(url_for("auth.login"))
    role = session.get("social_role", "learner")
    user = User(email=email, full_name=(identity.get("name") or email.split("@")[0])[:120], password_hash=None)
    user.roles = [UserRole(role=Role(role))]
    if identity["email_verified"]:
        user.email_verified_at = utcnow()
    db.session.add(user)
    db.session.flush()
    db.session.add(SocialAccount(user_id=user.id, provider=provider, subject=identity["subject"]))
    db.session.commit()
    logger.info("account created with social log-in", extra={"user_id": user.id, "provider": provider})
    accounts.start_session(user)
    if user.email_verified_at is None:
        accounts.send_verification_email(user)
    flash(f"Welcome to MentorHub! Your account is linked to {label}.", "success")
    return redirect(url_for("auth.verify"))


@bp.post("/account/social/<provider>/unlink")
@login_required
def social_unlink(provider: str):
    form = ConfirmForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        links = db.session.scalars(select(SocialAccount).where(SocialAccount.user_id == user.id)).all()
        target = [link for link in links if link.provider == provider]
        if target and (user.password_hash or len(links) > 1):
            for link in target:
                db.session.delete(link)
            db.session.commit()
            flash(f"{PROVIDER_LABELS.get(provider, provider)} is no longer linked.", "success")
        elif target:
            flash("Set a password first (use “Forgot password”), or you could not log in any more.", "error")
    return redirect(url_for("auth.account"))


@bp.app_context_processor
def _social_providers():
    """`social_providers` in every template: the configured log-in providers."""
    try:
        return {"social_providers": provider_names()}
    except RuntimeError:
        return {"social_providers": []}
