"""Google Calendar sync with google-api-python-client: OAuth connect, events for confirmed sessions, freebusy.

The API client is built from the discovery document shipped in the library (static_discovery=True), so
no discovery request leaves the machine. Tests (and anything else) replace the transport by setting
app.config["BOOKINGS_GOOGLE_HTTP"] to a callable(connection) -> httplib2.Http-like object, e.g. a
googleapiclient.http.HttpMockSequence. An expired or revoked token marks the connection `broken` and
tells its owner (in-app and e-mail) instead of failing silently.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import httplib2
import requests
from flask import current_app
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from sqlalchemy import select

from api.addresses import public_base_url
from api.bookings import notices
from api.bookings.slots import Interval
from api.bookings.timefmt import iso_utc
from api.bookings.transaction import serialised_write
from api.extensions import db
from api.settings import current_settings
from api.tables import Booking, BookingStatus, CalendarConnection, CalendarEventLink, User, utcnow

logger = logging.getLogger(__name__)

PROVIDER = "google"
SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
)
BROKEN_MESSAGE = ("Google refused MentorHub's access to your calendar (the permission was revoked or has expired). "
                  "Sessions are no longer copied to it and your busy times are not taken into account: "
                  "please reconnect it on your bookings page.")


class CalendarAuthError(Exception):
    """The connection's token no longer works."""


# ---------------------------------------------------------------- OAuth


def authorization_url(redirect_uri: str, state: str) -> str:
    """Google's consent page for calendar access (offline: we get a refresh token)."""
    config = current_settings()
    query = {
        "client_id": config.google_client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": state,
    }
    return f"{config.google_oauth_authorize_url}?{urlencode(query)}"


def exchange_code(code: str, redirect_uri: str) -> dict:
    """Trade the authorisation code for tokens at Google's token endpoint."""
    config = current_settings()
    response = requests.post(config.google_oauth_token_url, timeout=10, data={
        "code": code,
        "client_id": config.google_client_id,
        "client_secret": config.google_client_secret,
        "redirect_uri": redirect_uri,
        "grant_type": "authorization_code",
    })
    payload = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code != 200 or "access_token" not in payload:
        raise CalendarAuthError(payload.get("error_description") or payload.get("error") or f"HTTP {response.status_code}")
    return payload


def save_connection(user_id: int, tokens: dict, now: datetime | None = None) -> CalendarConnection:
    """Store (or renew) the user's Google connection from a token response."""
    now = now or datetime.now(timezone.utc)  # not the product's clock: Google's client checks expiry on the machine's
    with serialised_write():
        connection = connection_of(user_id, connected_only=False) or CalendarConnection(user_id=user_id, provider=PROVIDER)
        connection.access_token = tokens["access_token"]
        connection.refresh_token = tokens.get("refresh_token") or connection.refresh_token
        expires_in = tokens.get("expires_in")
        connection.token_expires_at = now + timedelta(seconds=int(expires_in)) if expires_in else None
        connection.scopes = tokens.get("scope", " ".join(SCOPES))
        connection.calendar_id = connection.calendar_id or "primary"
        connection.status = "connected"
        connection.status_reason = None
        db.session.add(connection)
    return connection


def disconnect(user_id: int) -> None:
    with serialised_write():
        connection = connection_of(user_id, connected_only=False)
        if connection is not None:
            db.session.delete(connection)


def connection_of(user_id: int, connected_only: bool = True) -> CalendarConnection | None:
    query = select(CalendarConnection).where(CalendarConnection.user_id == user_id,
                                             CalendarConnection.provider == PROVIDER)
    if connected_only:
        query = query.where(CalendarConnection.status == "connected")
    return db.session.scalar(query)


# ---------------------------------------------------------------- the API client


def _credentials(connection: CalendarConnection) -> Credentials:
    config = current_settings()
    expiry = connection.token_expires_at.astimezone(timezone.utc).replace(tzinfo=None) if connection.token_expires_at else None
    return Credentials(token=connection.access_token, refresh_token=connection.refresh_token,
                       token_uri=config.google_oauth_token_url, client_id=config.google_client_id or None,
                       client_secret=config.google_client_secret or None, scopes=list(SCOPES), expiry=expiry)


def _transport(connection: CalendarConnection):
    factory = current_app.config.get("BOOKINGS_GOOGLE_HTTP")
    return factory(connection) if factory else httplib2.Http(timeout=10)


def _call(connection: CalendarConnection, operation):
    """Run operation(service) with the connection's credentials; a dead token marks it broken."""
    credentials = _credentials(connection)
    http = AuthorizedHttp(credentials, http=_transport(connection))
    service = build("calendar", "v3", http=http, static_discovery=True, cache_discovery=False)
    try:
        result = operation(service)
    except RefreshError as error:
        mark_broken(connection.id, f"token refresh refused: {error}")
        raise CalendarAuthError(str(error)) from error
    except HttpError as error:
        if error.resp.status == 401:
            mark_broken(connection.id, "Google answered 401 Unauthorized")
            raise CalendarAuthError("unauthorized") from error
        raise
    if credentials.token and credentials.token != connection.access_token:
        _store_refreshed_token(connection.id, credentials)
    return result


def _store_refreshed_token(connection_id: int, credentials: Credentials) -> None:
    with serialised_write():
        connection = db.session.get(CalendarConnection, connection_id)
        if connection is not None:
            connection.access_token = credentials.token
            if credentials.expiry:
                connection.token_expires_at = credentials.expiry.replace(tzinfo=timezone.utc)


def mark_broken(connection_id: int, reason: str) -> None:
    """Mark the connection broken and tell its owner, once."""
    with serialised_write():
        connection = db.session.get(CalendarConnection, connection_id)
        if connection is None or connection.status == "broken":
            return
        connection.status = "broken"
        connection.status_reason = reason
        owner = db.session.get(User, connection.user_id)
        notices.notify(owner, "calendar.broken", "Reconnect your Google Calendar", BROKEN_MESSAGE,
                       link=f"{public_base_url()}/bookings/")
    logger.warning("calendar connection %s broken: %s", connection_id, reason)


# ---------------------------------------------------------------- freebusy


_LOOK_UP = object()


def busy_intervals(user_id: int, start: datetime, end: datetime, connection=_LOOK_UP) -> list[Interval]:
    """The user's busy times from Google's freebusy; empty when not connected or when Google fails.

    `connection`: the user's connected CalendarConnection (or None) when the caller already read it.
    """
    if connection is _LOOK_UP:
        connection = connection_of(user_id)
    if connection is None:
        return []
    calendar_id = connection.calendar_id or "primary"
    body = {"timeMin": iso_utc(start), "timeMax": iso_utc(end), "items": [{"id": calendar_id}]}
    try:
        answer = _call(connection, lambda service: service.freebusy().query(body=body).execute())
    except CalendarAuthError:
        return []
    except (HttpError, TransportError, httplib2.HttpLib2Error, OSError) as error:
        logger.warning("freebusy failed for user %s: %s", user_id, error)
        return []
    busy = answer.get("calendars", {}).get(calendar_id, {}).get("busy", [])
    return [Interval(_parse(b["start"]), _parse(b["end"])) for b in busy]


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


# ---------------------------------------------------------------- events


def event_body(booking: Booking, viewer: User, other: User) -> dict:
    """The calendar event of a confirmed session, as the viewer's calendar shows it."""
    base = public_base_url()
    link = f"{base}/bookings/{booking.id}"
    description = f"MentorHub session with {other.full_name}.\n"
    if booking.video_link:
        description += f"Join the video call: {booking.video_link}\n"
    description += f"Manage the booking: {link}"
    return {
        "summary": f"MentorHub session with {other.full_name}",
        "description": description,
        "location": booking.video_link or link,
        "start": {"dateTime": iso_utc(booking.starts_at), "timeZone": viewer.timezone or "UTC"},
        "end": {"dateTime": iso_utc(booking.ends_at), "timeZone": viewer.timezone or "UTC"},
        "source": {"title": "MentorHub booking", "url": link},
        "extendedProperties": {"private": {"mentorhub_booking_id": str(booking.id)}},
        "reminders": {"useDefault": True},
    }


def sync_booking(app, booking_id: int) -> None:
    """Bring both participants' connected calendars in line with the booking: an event while it is
    accepted (created, or moved after a reschedule), none otherwise."""
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        return
    people = {booking.mentor_id: booking.learner_id, booking.learner_id: booking.mentor_id}
    for user_id, other_id in people.items():
        connection = connection_of(user_id)
        link = db.session.scalar(select(CalendarEventLink).where(CalendarEventLink.booking_id == booking_id,
                                                                 CalendarEventLink.user_id == user_id))
        if connection is None:
            continue
        try:
            if booking.status == BookingStatus.ACCEPTED:
                _upsert_event(connection, booking, link, db.session.get(User, user_id), db.session.get(User, other_id))
            elif link is not None:
                _delete_event(connection, link)
        except CalendarAuthError:
            continue
        except (HttpError, TransportError, httplib2.HttpLib2Error, OSError) as error:
            logger.warning("calendar sync of booking %s for user %s failed: %s", booking_id, user_id, error)


def _upsert_event(connection: CalendarConnection, booking: Booking, link: CalendarEventLink | None,
                  viewer: User, other: User) -> None:
    body = event_body(booking, viewer, other)
    calendar_id = connection.calendar_id or "primary"
    if link is not None:
        try:
            _call(connection, lambda s: s.events().patch(calendarId=calendar_id, eventId=link.external_event_id,
                                                         body=body, sendUpdates="none").execute())
            with serialised_write():
                db.session.get(CalendarEventLink, link.id).synced_at = utcnow()
            return
        except HttpError as error:
            if error.resp.status not in (404, 410):
                raise
    created = _call(connection, lambda s: s.events().insert(calendarId=calendar_id, body=body,
                                                            sendUpdates="none").execute())
    with serialised_write():
        if link is not None:
            stored = db.session.get(CalendarEventLink, link.id)
            stored.external_event_id, stored.connection_id = created["id"], connection.id
        else:
            db.session.add(CalendarEventLink(booking_id=booking.id, user_id=viewer.id, connection_id=connection.id,
                                             external_event_id=created["id"]))


def _delete_event(connection: CalendarConnection, link: CalendarEventLink) -> None:
    calendar_id = connection.calendar_id or "primary"
    try:
        _call(connection, lambda s: s.events().delete(calendarId=calendar_id, eventId=link.external_event_id,
                                                      sendUpdates="none").execute())
    except HttpError as error:
        if error.resp.status not in (404, 410):
            raise
    with serialised_write():
        stored = db.session.get(CalendarEventLink, link.id)
        if stored is not None:
            db.session.delete(stored)
