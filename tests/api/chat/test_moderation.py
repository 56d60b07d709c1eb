"""Moderation: reports, admins deleting messages, muting and banning users from rooms."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from api.extensions import db
from api.tables import Message
from api.tables.chat import MessageReport, ModerationAction
from tests.api.chat.chat_helpers import NAMESPACE, ack, csrf_headers, received, received_messages
from tests.api.admin.admin_helpers import pass_second_factor


@pytest.fixture
def room_with_message(app, sio, login_client, people):
    leo_http, mara_http = login_client(people["learner"]), login_client(people["mentor"])
    leo, mara = sio(leo_http), sio(mara_http)
    ack(leo, "join", {"room": "general"})
    ack(mara, "join", {"room": "general"})
    message = ack(leo, "send", {"room": "general", "body": "buy cheap followers"})["message"]
    mara.get_received(NAMESPACE)
    leo.get_received(NAMESPACE)
    return {"leo": leo, "mara": mara, "leo_http": leo_http, "mara_http": mara_http, "message": message}


@pytest.mark.db
def test_report_then_admin_deletes_for_everyone(app, sio, login_client, people, room_with_message):
    mara_http, message = room_with_message["mara_http"], room_with_message["message"]
    response = mara_http.post(f"/api/v1/chat/messages/{message['id']}/report", json={"reason": "spam"},
                              headers=csrf_headers(mara_http))
    assert response.status_code == 201
    again = mara_http.post(f"/api/v1/chat/messages/{message['id']}/report", json={"reason": "spam"},
                           headers=csrf_headers(mara_http))
    assert again.json["report_id"] == response.json["report_id"]  # once per reporter

    admin_http = login_client(people["admin"])
    pass_second_factor(admin_http)  # admins: the session passed TOTP
    queue = admin_http.get("/chat/admin").get_data(as_text=True)
    assert "buy cheap followers" in queue and "spam" in queue

    forbidden = mara_http.post(f"/api/v1/chat/messages/{message['id']}/delete", json={},
                               headers=csrf_headers(mara_http))
    assert forbidden.status_code == 403
    deleted = admin_http.post(f"/api/v1/chat/messages/{message['id']}/delete", json={"reason": "spam"},
                              headers=csrf_headers(admin_http))
    assert deleted.status_code == 200
    assert received(room_with_message["mara"], "message_deleted") == [{"room": "general", "id": message["id"]}]
    history = mara_http.get("/api/v1/chat/rooms/general/messages").json["messages"]
    assert history[-1]["deleted"] is True and history[-1]["html"] == ""
    with app.app_context():
        assert db.session.get(Message, message["id"]).reported_count == 1
        assert db.session.scalar(select(MessageReport)).resolved_at is not None
        assert db.session.scalar(select(ModerationAction)).action == "delete"


def test_muted_user_reads_but_cannot_send(app, login_client, people, room_with_message):
    admin_http = login_client(people["admin"])
    pass_second_factor(admin_http)  # admins: the session passed TOTP
    response = admin_http.post("/api/v1/chat/rooms/general/moderate",
                               json={"user_id": people["learner"].id, "action": "mute", "minutes": 30},
                               headers=csrf_headers(admin_http))
    assert response.status_code == 200 and response.json["muted_until"]
    leo = room_with_message["leo"]
    assert [m["action"] for m in received(leo, "moderation")] == ["mute"]
    refused = ack(leo, "send", {"room": "general", "body": "hello?"})
    assert refused["ok"] is False and "muted" in refused["error"]
    assert ack(leo, "join", {"room": "general"})["ok"]
    admin_http.post("/api/v1/chat/rooms/general/moderate", json={"user_id": people["learner"].id, "action": "unmute"},
                    headers=csrf_headers(admin_http))
    assert ack(leo, "send", {"room": "general", "body": "thanks"})["ok"]


def test_banned_user_is_removed_and_cannot_come_back(app, login_client, people, room_with_message):
    admin_http = login_client(people["admin"])
    pass_second_factor(admin_http)  # admins: the session passed TOTP
    response = admin_http.post("/api/v1/chat/rooms/general/moderate",
                               json={"user_id": people["learner"].id, "action": "ban", "reason": "spam"},
                               headers=csrf_headers(admin_http))
    assert response.status_code == 200 and response.json["banned"] is True
    leo, mara = room_with_message["leo"], room_with_message["mara"]
    ack(mara, "send", {"room": "general", "body": "after the ban"})
    assert received_messages(leo) == []  # taken out of the room
    refused = ack(leo, "join", {"room": "general"})
    assert refused["ok"] is False and refused["code"] == 403
    assert room_with_message["leo_http"].get("/api/v1/chat/rooms/general/messages").status_code == 403


def test_moderation_needs_an_admin_and_csrf(app, login_client, people, room_with_message):
    mara_http = room_with_message["mara_http"]
    response = mara_http.post("/api/v1/chat/rooms/general/moderate",
                              json={"user_id": people["learner"].id, "action": "ban"}, headers=csrf_headers(mara_http))
    assert response.status_code == 403
    admin_http = login_client(people["admin"])
    pass_second_factor(admin_http)  # admins: the session passed TOTP
    no_token = admin_http.post("/api/v1/chat/rooms/general/moderate",
                               json={"user_id": people["learner"].id, "action": "ban"})
    assert no_token.status_code == 400
