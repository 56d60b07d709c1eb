"""Helpers of the chat tests (imported as tests.api.chat.chat_helpers)."""
from __future__ import annotations

NAMESPACE = "/chat"


def received(client, event: str) -> list:
    """The payloads of `event` the test client has received since the last call."""
    return [packet["args"][0] for packet in client.get_received(NAMESPACE) if packet["name"] == event]


def received_messages(client) -> list:
    """The chat messages the test client has received since the last call (from every `messages` batch)."""
    return [m for batch in received(client, "messages") for m in batch["messages"]]


def ack(client, event: str, data: dict):
    return client.emit(event, data, namespace=NAMESPACE, callback=True)


def csrf_headers(http_client) -> dict:
    token = http_client.get("/api/v1/csrf-token").json["csrf_token"]
    return {"X-CSRFToken": token, "Accept": "application/json"}


def book(app, learner, mentor):
    """A booking request between the two, which allows their one-on-one chat."""
    from datetime import datetime, timedelta, timezone

    from api.extensions import db
    from api.tables import Booking, BookingStatus

    start = datetime.now(timezone.utc) + timedelta(days=3)
    with app.app_context():
        db.session.add(Booking(learner_id=learner.id, mentor_id=mentor.id, starts_at=start,
                               ends_at=start + timedelta(hours=1), status=BookingStatus.REQUESTED,
                               price_minor=5000, currency="USD"))
        db.session.commit()


def open_direct(http_client, other) -> str:
    response = http_client.get(f"/chat/with/{other.id}")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.headers["Location"].rsplit("/", 1)[-1]
