"""Social log-in with Google (OpenID Connect) and Facebook (OAuth 2) through Authlib's Flask client.

Authlib checks `state` and PKCE (S256) for both, and the id_token's signature, issuer, audience, expiry
and `nonce` for Google. Accounts are linked by the provider's subject id (SocialAccount), never by e-mail:
an unknown identity whose e-mail is already registered does not get into that account.
The pages that send the browser to the provider and take it back are in api.auth.routes.
"""
from __future__ import annotations

import logging

from authlib.integrations.flask_client import OAuth
from flask import current_app
from sqlalchemy import select

from api.extensions import db
from api.settings import current_settings
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


def provider_names() -> list[str]:
    """The providers configured on this app, e.g. ["google", "facebook"]."""
    oauth = current_app.extensions.get("mentorhub_oauth")
    return [name for name in PROVIDER_LABELS if oauth is not None and oauth.create_client(name) is not None]


def linked_providers(user: User) -> set[str]:
    return set(db.session.scalars(select(SocialAccount.provider).where(SocialAccount.user_id == user.id)))


def client(provider: str):
    """The provider's Authlib client, or None when it is not configured."""
    oauth = current_app.extensions.get("mentorhub_oauth")
    return oauth.create_client(provider) if oauth is not None and provider in PROVIDER_LABELS else None


def fetch_identity(provider: str, provider_client) -> dict:
    """The provider's answer as {subject, email, email_verified, name}; raises on any failed check."""
    token = provider_client.authorize_access_token()
    if provider == "google":
        info = token.get("userinfo") or provider_client.userinfo(token=token)
        return {"subject": str(info["sub"]), "email": info.get("email"),
                "email_verified": info.get("email_verified") is True, "name": info.get("name")}
    response = provider_client.get(current_settings().facebook_userinfo_url, token=token)
    response.raise_for_status()
    info = response.json()
    return {"subject": str(info["id"]), "email": info.get("email"), "email_verified": False, "name": info.get("name")}


def linked_user(provider: str, subject: str) -> User | None:
    """The account this provider identity is linked to."""
    account = db.session.scalar(
        select(SocialAccount).where(SocialAccount.provider == provider, SocialAccount.subject == subject)
    )
    return None if account is None else db.session.get(User, account.user_id)


def link(user_id: int, provider: str, subject: str) -> None:
    """Link the provider identity to the account: from now on it logs in."""
    db.session.add(SocialAccount(user_id=user_id, provider=provider, subject=subject))
    db.session.commit()


def create_account(provider: str, identity: dict, email: str, role: str) -> User:
    """A new account (no password) linked to the provider identity; verified when the provider vouches for the
    e-mail address."""
    user = User(email=email, full_name=(identity.get("name") or email.split("@")[0])[:120], password_hash=None)
    user.roles = [UserRole(role=Role(role))]
    if identity["email_verified"]:
        user.email_verified_at = utcnow()
    db.session.add(user)
    db.session.flush()
    db.session.add(SocialAccount(user_id=user.id, provider=provider, subject=identity["subject"]))
    db.session.commit()
    logger.info("account created with social log-in", extra={"user_id": user.id, "provider": provider})
    return user


def unlink(user: User, provider: str) -> bool | None:
    """Unlink the provider: True when done, False when it is the account's only way in (no password, no other
    provider), None when it was not linked."""
    links = db.session.scalars(select(SocialAccount).where(SocialAccount.user_id == user.id)).all()
    target = [one for one in links if one.provider == provider]
    if not target:
        return None
    if not (user.password_hash or len(links) > 1):
        return False
    for one in target:
        db.session.delete(one)
    db.session.commit()
    return True
