"""Public rooms over Socket.IO: authentication, join and leave, who is online, typing, history, reconnects."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from api.extensions import db
from api.tables import Event, EventType, Message
from tests.api.chat.chat_helpers import NAMESPACE, ack, received, received_messages


def test_socket_connection_requires_a_logged_in_session(app, sio, login_client, people):
    anonymous = sio(app.test_client())
    assert not anonymous.is_connected(NAMESPACE)
    member = sio(login_client(people["learner"]))
    assert member.is_connected(NAMESPACE)


def test_cors_origins_are_the_same_origin_rule_or_the_configured_list_never_any(app, settings, tmp_path):
    from api import create_app
    from api.extensions import socketio
    from tests.conftest import make_settings

    assert settings.cors_allowed_origins == []  # unset: the page's own origin, whatever address it is served on
    rule = socketio.server.eio.cors_allowed_origins
    assert callable(rule)
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:5104"}
    assert rule("http://127.0.0.1:5104", environ)
    assert not rule("http://127.0.0.1:5000", environ) and not rule("https://evil.example", environ)
    listed = make_settings(tmp_path / "listed", cors_allowed_origins=["https://mentorhub.example"])
    create_app(settings=listed)
    assert socketio.server.eio.cors_allowed_origins == ["https://mentorhub.example"]  # an explicit list wins
    with pytest.raises(RuntimeError, match="CORS_ALLOWED_ORIGINS"):
        create_app(settings=make_settings(tmp_path / "star", cors_allowed_origins=["*"]))


@pytest.mark.db
def test_message_is_stored_broadcast_and_logged_without_content(app, sio, login_client, people):
    leo, mara = sio(login_client(people["learner"])), sio(login_client(people["mentor"]))
    assert ack(leo, "join", {"room": "general"})["ok"]
    joined = ack(mara, "join", {"room": "general"})
    assert {u["name"] for u in joined["online"]} == {"Leo Learner", "Mara Mentor"}
    assert [p["user"]["name"] for p in received(leo, "presence")] == ["Mara Mentor"]

    reply = ack(leo, "send", {"room": "general", "body": "Hello **everyone**, see https://flask.palletsprojects.com",
                              "client_id": "c1"})
    assert reply["ok"]
    [message] = received_messages(mara)
    assert message["sender"]["name"] == "Leo Learner" and message["client_id"] == "c1"
    assert "<strong>everyone</strong>" in message["html"]
    assert 'href="https://flask.palletsprojects.com"' in message["html"]

    with app.app_context():
        stored = db.session.get(Message, message["id"])
        assert stored.body.startswith("Hello **everyone**")
        event = db.session.scalar(select(Event).where(Event.event_type == EventType.MESSAGE_SENT))
        assert event.user_id == people["learner"].id
        assert event.payload["message_id"] == message["id"]
        assert "Hello" not in str(event.payload)  # sends are logged without their content


def test_script_and_onerror_image_render_as_text(app, sio, login_client, people):
    leo, mara = sio(login_client(people["learner"])), sio(login_client(people["mentor"]))
    ack(leo, "join", {"room": "general"})
    ack(mara, "join", {"room": "general"})
    ack(leo, "send", {"room": "general", "body": '<script>alert(1)</script> <img src=x onerror="alert(2)">'})
    [message] = received_messages(mara)
    assert "<script" not in message["html"] and "<img" not in message["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message["html"]
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in message["html"]
    history = login_client(people["mentor"]).get("/api/v1/chat/rooms/general/messages").json
    assert "<img" not in history["messages"][0]["html"]


def test_typing_and_leaving_are_shown_to_the_others(app, sio, login_client, people):
    leo, mara = sio(login_client(people["learner"])), sio(login_client(people["mentor"]))
    ack(leo, "join", {"room": "general"})
    ack(mara, "join", {"room": "general"})
    leo.get_received(NAMESPACE)
    ack(mara, "typing", {"room": "general", "typing": True})
    [typing] = received(leo, "typing")
    assert typing["user"]["name"] == "Mara Mentor" and typing["typing"] is True
    assert received(mara, "typing") == []  # not echoed to the typist
    ack(mara, "leave", {"room": "general"})
    [gone] = received(leo, "presence")
    assert gone == {"room_id": gone["room_id"], "user": {"id": people["mentor"].id}, "online": False}
    ack(leo, "send", {"room": "general", "body": "anyone?"})
    assert received_messages(mara) == []  # left the room


@pytest.mark.db
def test_history_pages_back_and_a_reconnect_gets_what_it_missed(app, sio, login_client, people):
    settings = app.config["MENTORHUB_SETTINGS"]
    settings.chat_flood_messages = 1000
    leo_http = login_client(people["learner"])
    leo = sio(leo_http)
    ack(leo, "join", {"room": "general"})
    for n in range(1, 61):
        assert ack(leo, "send", {"room": "general", "body": f"message {n}"})["ok"]

    mara_http = login_client(people["mentor"])
    mara = sio(mara_http)
    first = ack(mara, "join", {"room": "general"})
    assert len(first["messages"]) == 50 and first["more"] is True
    assert first["messages"][-1]["html"] == "message 60"
    older = mara_http.get(f"/api/v1/chat/rooms/general/messages?before={first['messages'][0]['id']}").json
    assert [m["html"] for m in older["messages"]] == [f"message {n}" for n in range(1, 11)]
    assert older["more"] is False

    last_seen = first["messages"][-1]["id"]
    mara.disconnect(namespace=NAMESPACE)
    for n in range(61, 64):
        ack(leo, "send", {"room": "general", "body": f"message {n}"})
    mara = sio(mara_http)
    again = ack(mara, "join", {"room": "general", "after_id": last_seen})
    assert again["sync"] is True
    # what it missed, after a few it has (stored just before, they might have committed late: shown once each)
    assert [m["html"] for m in again["messages"] if m["id"] > last_seen] == ["message 61", "message 62", "message 63"]


def test_topic_rooms_exist_for_every_topic(app, login_client, people):
    from api.tables import Topic

    with app.app_context():
        db.session.add(Topic(slug="python", name="Python", category="programming"))
        db.session.commit()
    page = login_client(people["learner"]).get("/chat/rooms/general")
    assert page.status_code == 200
    assert "/chat/rooms/topic-python" in page.get_data(as_text=True)
    assert login_client(people["learner"]).get("/chat/rooms/topic-python").status_code == 200


def test_mentions_notify_the_named_user(app, sio, login_client, people):
    leo, mara = sio(login_client(people["learner"])), sio(login_client(people["mentor"]))
    ack(leo, "join", {"room": "general"})
    ack(leo, "send", {"room": "general", "body": "@MaraMentor could you help?"})
    [mention] = received(mara, "mention")  # Mara is connected but not in the room
    assert mention["from"]["name"] == "Leo Learner" and mention["room"] == "general"


def test_flood_control_refuses_a_burst(app, sio, login_client, people):
    leo = sio(login_client(people["learner"]))
    ack(leo, "join", {"room": "general"})
    limit = app.config["MENTORHUB_SETTINGS"].chat_flood_messages
    replies = [ack(leo, "send", {"room": "general", "body": f"spam {n}"}) for n in range(limit + 2)]
    assert all(r["ok"] for r in replies[:limit])
    assert replies[limit] == {"ok": False, "error": "You are sending messages too fast; wait a few seconds.",
                              "code": 429}


def test_unverified_accounts_cannot_send(app, sio, login_client, quick_user):
    newbie = quick_user("new@example.com", "New Person", verified=False)
    client = sio(login_client(newbie))
    assert ack(client, "join", {"room": "general"})["ok"]  # reading is fine
    reply = ack(client, "send", {"room": "general", "body": "hi"})
    assert reply["ok"] is False and reply["code"] == 403
