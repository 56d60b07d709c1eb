"""One-on-one learner-mentor chat: who may start it, privacy, read receipts, unread counts, offline e-mail."""
from __future__ import annotations

import pytest

from api.extensions import db
from api.tables import MentorProfile
from tests.api.chat.chat_helpers import NAMESPACE, ack, book, open_direct, received, received_messages


def test_a_learner_cannot_message_a_mentor_before_a_booking_request(app, login_client, people):
    response = login_client(people["learner"]).get(f"/chat/with/{people['mentor'].id}", headers={"Accept": "application/json"})
    assert response.status_code == 403


def test_a_mentor_who_accepts_questions_can_be_messaged_before_booking(app, login_client, people):
    with app.app_context():
        db.session.get(MentorProfile, people["mentor"].id).accepts_questions = True
        db.session.commit()
    slug = open_direct(login_client(people["learner"]), people["mentor"])
    assert slug == f"dm-{min(people['learner'].id, people['mentor'].id)}-{max(people['learner'].id, people['mentor'].id)}"


@pytest.mark.db
def test_nobody_else_joins_or_reads_a_one_on_one_room(app, sio, login_client, people):
    book(app, people["learner"], people["mentor"])
    leo_http = login_client(people["learner"])
    slug = open_direct(leo_http, people["mentor"])
    leo = sio(leo_http)
    ack(leo, "join", {"room": slug})
    ack(leo, "send", {"room": slug, "body": "private question"})

    sam_http = login_client(people["stranger"])
    sam = sio(sam_http)
    refused = ack(sam, "join", {"room": slug})
    assert refused["ok"] is False and refused["code"] == 404
    assert ack(sam, "send", {"room": slug, "body": "let me in"})["ok"] is False
    assert ack(sam, "read", {"room": slug, "message_id": 1})["ok"] is False
    assert sam_http.get(f"/api/v1/chat/rooms/{slug}/messages").status_code == 404
    assert sam_http.get(f"/chat/rooms/{slug}").status_code == 404
    admin = sio(login_client(people["admin"]))
    assert ack(admin, "join", {"room": slug})["ok"] is False  # not even an admin reads private chats
    assert "private question" not in str(received_messages(sam))


def test_read_receipts_and_unread_counts(app, sio, login_client, people):
    book(app, people["learner"], people["mentor"])
    leo_http, mara_http = login_client(people["learner"]), login_client(people["mentor"])
    slug = open_direct(leo_http, people["mentor"])
    leo, mara = sio(leo_http), sio(mara_http)
    ack(leo, "join", {"room": slug})
    first = ack(leo, "send", {"room": slug, "body": "one"})["message"]
    second = ack(leo, "send", {"room": slug, "body": "two"})["message"]

    assert [u["total"] for u in received(mara, "unread")] == [1, 2]  # the nav badge, live
    assert mara_http.get("/api/v1/chat/unread").json == {"total": 2}
    page = mara_http.get("/chat/rooms/general").get_data(as_text=True)
    assert 'id="chat-unread"' in page and ">2</span>" in page
    assert leo_http.get("/api/v1/chat/unread").json == {"total": 0}  # one's own messages are read

    ack(mara, "join", {"room": slug})
    assert ack(mara, "read", {"room": slug, "message_id": first["id"]})["message_id"] == first["id"]
    assert mara_http.get("/api/v1/chat/unread").json == {"total": 1}
    ack(mara, "read", {"room": slug, "message_id": second["id"]})
    receipts = received(leo, "read")
    assert [r["message_id"] for r in receipts] == [first["id"], second["id"]]
    assert receipts[-1]["user_id"] == people["mentor"].id
    assert ack(mara, "read", {"room": slug, "message_id": first["id"]})["message_id"] is None  # never backwards
    joined = ack(leo, "join", {"room": slug})
    assert joined["read"][str(people["mentor"].id)] == second["id"]


def test_an_offline_recipient_gets_one_email_per_unread_streak(app, sio, login_client, people):
    from api.notify import read_outbox

    book(app, people["learner"], people["mentor"])
    leo_http = login_client(people["learner"])
    slug = open_direct(leo_http, people["mentor"])
    leo = sio(leo_http)
    ack(leo, "join", {"room": slug})
    ack(leo, "send", {"room": slug, "body": "Are you free on Friday?"})
    ack(leo, "send", {"room": slug, "body": "Or Saturday?"})
    outbox = read_outbox(app.config["MENTORHUB_SETTINGS"].outbox_path)
    chat_mails = [m for m in outbox if m.get("kind") == "chat_message"]
    assert len(chat_mails) == 1
    assert chat_mails[0]["to"] == "mara@example.com"
    assert "Leo Learner" in chat_mails[0]["subject"]
    assert "Friday" not in chat_mails[0]["body"]  # the e-mail says who wrote, not what

    mara = sio(login_client(people["mentor"]))  # online now: no e-mail
    ack(leo, "send", {"room": slug, "body": "See you"})
    assert len([m for m in read_outbox(app.config["MENTORHUB_SETTINGS"].outbox_path)
                if m.get("kind") == "chat_message"]) == 1
    assert mara.is_connected(NAMESPACE)
