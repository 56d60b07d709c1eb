"""Social log-in end to end against a local OpenID provider (pytest-httpserver): Google (OIDC) and Facebook (OAuth 2)."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from werkzeug import Response

from api.extensions import db
from api.tables import SocialAccount, User
from tests.api.auth.accounts_helpers import JsonClient, form_token
from tests.conftest import make_settings

# Tests whose outcome depends on the database run on SQLite and PostgreSQL (`db`); the rest on SQLite.

CLIENT_ID = "mentorhub-test-client"


@pytest.fixture(scope="module")
def signing_keys():
    return (RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True),
            RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True))


class Provider:
    """A small OpenID provider: discovery, JWKS, a token endpoint checking PKCE, RS256 id_tokens, userinfo."""

    def __init__(self, httpserver, key):
        self.key = self.sign_key = key
        self.issuer = httpserver.url_for("/").rstrip("/")
        self.subject, self.email, self.email_verified, self.name = "g-1001", "gina@example.com", True, "Gina Google"
        self.nonce_override = None
        self.authorize_params: dict = {}
        self.pkce_checked = False
        httpserver.expect_request("/.well-known/openid-configuration").respond_with_json({
            "issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token", "userinfo_endpoint": self.issuer + "/userinfo",
            "jwks_uri": self.issuer + "/jwks", "response_types_supported": ["code"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        })
        httpserver.expect_request("/jwks").respond_with_json({"keys": [key.as_dict(private=False)]})
        httpserver.expect_request("/token", method="POST").respond_with_handler(self._google_token)
        httpserver.expect_request("/userinfo").respond_with_handler(
            lambda request: Response(json.dumps({"sub": self.subject, "email": self.email}),
                                     content_type="application/json"))
        httpserver.expect_request("/fb/token", method="POST").respond_with_handler(self._facebook_token)
        httpserver.expect_request("/fb/me").respond_with_handler(self._facebook_me)

    def _pkce_ok(self, request) -> bool:
        verifier = request.form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        self.pkce_checked = bool(verifier) and challenge == self.authorize_params.get("code_challenge")
        return self.pkce_checked

    def _google_token(self, request):
        if not self._pkce_ok(request) or request.form.get("code") != "auth-code-1":
            return Response(json.dumps({"error": "invalid_grant"}), status=400, content_type="application/json")
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "sub": self.subject, "email": self.email,
                  "email_verified": self.email_verified, "name": self.name, "iat": now, "exp": now + 300,
                  "nonce": self.nonce_override or self.authorize_params.get("nonce")}
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.sign_key)
        return Response(json.dumps({"access_token": "access-1", "token_type": "Bearer", "expires_in": 300,
                                    "id_token": id_token, "scope": "openid email profile"}),
                        content_type="application/json")

    def _facebook_token(self, request):
        if not self._pkce_ok(request):
            return Response(json.dumps({"error": "invalid_grant"}), status=400, content_type="application/json")
        return Response(json.dumps({"access_token": "fb-access-1", "token_type": "bearer", "expires_in": 300}),
                        content_type="application/json")

    def _facebook_me(self, request):
        if request.headers.get("Authorization") != "Bearer fb-access-1":
            return Response("{}", status=401, content_type="application/json")
        return Response(json.dumps({"id": "fb-2002", "name": "Fabio Facebook", "email": "fabio@example.com"}),
                        content_type="application/json")

    def sign_in(self, client, provider="google", role="learner", state=None):
        """The browser's round trip: to the provider (which consents at once) and back to the callback."""
        response = client.get(f"/login/{provider}?role={role}")
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        self.authorize_params = {k: v[0] for k, v in parse_qs(location.query).items()}
        return client.get(f"/login/{provider}/callback?code=auth-code-1&state={state or self.authorize_params['state']}")


@pytest.fixture
def settings(tmp_path, database_url, httpserver):
    return make_settings(
        tmp_path, database_url, argon2_time_cost=1, argon2_memory_cost_kib=1024, argon2_parallelism=1,
        google_client_id=CLIENT_ID, google_client_secret="google-secret",
        google_discovery_url=httpserver.url_for("/.well-known/openid-configuration"),
        facebook_client_id=CLIENT_ID, facebook_client_secret="facebook-secret",
        facebook_authorize_url=httpserver.url_for("/fb/dialog"), facebook_token_url=httpserver.url_for("/fb/token"),
        facebook_userinfo_url=httpserver.url_for("/fb/me"),
    )


@pytest.fixture
def provider(httpserver, signing_keys):
    return Provider(httpserver, signing_keys[0])


def _accounts(app):
    with app.app_context():
        return [(a.provider, a.subject, db.session.get(User, a.user_id).email)
                for a in db.session.scalars(select(SocialAccount))]


@pytest.mark.db
def test_google_sign_up_checks_state_pkce_nonce_and_signature(app, client, provider):
    response = provider.sign_in(client, role="mentor")
    assert response.status_code == 302 and response.headers["Location"] == "/verify"
    params = provider.authorize_params
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    assert provider.pkce_checked
    me = client.get("/api/v1/auth/me").json
    assert me["email"] == "gina@example.com" and me["email_verified"] is True and me["roles"] == ["mentor"]
    assert _accounts(app) == [("google", "g-1001", "gina@example.com")]


@pytest.mark.db
def test_returning_user_is_found_by_subject_not_email(app, provider):
    provider.sign_in(app.test_client())
    provider.email = "gina.new.address@example.com"
    client = app.test_client()
    provider.sign_in(client)
    assert client.get("/api/v1/auth/me").json["email"] == "gina@example.com"
    assert len(_accounts(app)) == 1


@pytest.mark.db
def test_same_email_does_not_open_an_existing_account(app, client, provider, make_user):
    make_user("gina@example.com")
    response = provider.sign_in(client)
    assert response.headers["Location"] == "/login"
    assert client.get("/api/v1/auth/me").status_code == 401
    assert _accounts(app) == []
    assert "link Google from your account page" in client.get("/login").get_data(as_text=True)


@pytest.mark.db
def test_logged_in_user_links_google_then_logs_in_with_it(app, client, provider, make_user, login):
    user = make_user("ana@example.com")
    login(user)
    response = provider.sign_in(client)
    assert response.headers["Location"] == "/account"
    assert _accounts(app) == [("google", "g-1001", "ana@example.com")]
    other = app.test_client()
    provider.sign_in(other)
    assert other.get("/api/v1/auth/me").json["id"] == user.id


def test_wrong_state_is_refused(client, provider):
    response = provider.sign_in(client, state="forged-state")
    assert response.status_code == 400
    assert client.get("/api/v1/auth/me").status_code == 401


def test_callback_without_starting_is_refused(client, provider):
    assert client.get("/login/google/callback?code=auth-code-1&state=whatever").status_code == 400


def test_wrong_nonce_is_refused(client, provider):
    provider.nonce_override = "replayed-nonce"
    assert provider.sign_in(client).status_code == 400
    assert client.get("/api/v1/auth/me").status_code == 401


def test_id_token_signed_by_another_key_is_refused(client, provider, signing_keys):
    provider.sign_key = signing_keys[1]
    assert provider.sign_in(client).status_code == 400
    assert client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.db
def test_facebook_sign_up_by_oauth2(app, client, provider):
    response = provider.sign_in(client, provider="facebook")
    assert response.status_code == 302
    assert provider.pkce_checked
    me = client.get("/api/v1/auth/me").json
    assert me["email"] == "fabio@example.com" and me["email_verified"] is False  # Facebook does not vouch
    assert _accounts(app) == [("facebook", "fb-2002", "fabio@example.com")]


def test_unlink_needs_another_way_in(app, client, provider):
    provider.sign_in(client)
    token = form_token(client, "/account")
    client.post("/account/social/google/unlink", data={"csrf_token": token})
    assert len(_accounts(app)) == 1  # no password: unlinking would lock the user out


def test_login_pages_offer_the_configured_providers(client, provider):
    page = client.get("/login").get_data(as_text=True)
    assert "Continue with Google" in page and "Continue with Facebook" in page
    assert client.get("/login/twitter").status_code == 404


def test_no_providers_without_client_ids(tmp_path, sqlite_template):
    import shutil

    from api import create_app

    shutil.copy(sqlite_template, tmp_path / "mentorhub.db")
    app = create_app(settings=make_settings(tmp_path))
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "Continue with Google" not in page
    assert JsonClient(app.test_client()).get("/login/google").status_code == 404
