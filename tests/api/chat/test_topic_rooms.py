"""One chat room per topic: the seeder and the app name it alike, and older worlds' duplicates are merged."""
from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.tables import ChatMember, ChatRoom, Message, Topic, utcnow
from api.tables.chat import ModerationAction

pytestmark = pytest.mark.db


def _room_names(html: str) -> list[str]:
    """The public rooms listed in the page's sidebar."""
    lists = html.split('<div class="chat-lists">', 1)[1].split("<h2>Conversations</h2>", 1)[0]
    return re.findall(r'href="/chat/rooms/([^"]+)"', lists)


def test_after_seeding_each_topic_has_exactly_one_room(app, login_client):
    from api.cli import DEMO_LOGINS, DEMO_PASSWORD
    from api.demo.world import WorldSpec, generate_world
    from api.tables import User

    with app.app_context():
        generate_world(WorldSpec(learners=40, mentors=8, days=20, seed=3, until=date(2026, 3, 31)),
                       demo_password=DEMO_PASSWORD, demo_logins=DEMO_LOGINS)
        learner = db.session.scalar(select(User).where(User.email == DEMO_LOGINS["learner"]))
        db.session.expunge(learner)
    page = login_client(learner).get("/chat/rooms/general")  # the app makes the rooms it is missing
    assert page.status_code == 200
    with app.app_context():
        topics = dict(db.session.execute(select(Topic.id, Topic.slug)).all())
        rooms = db.session.scalars(select(ChatRoom).where(ChatRoom.kind == "public")).all()
        per_topic = Counter(room.topic_id for room in rooms if room.topic_id is not None)
        assert set(per_topic) == set(topics) and set(per_topic.values()) == {1}
        assert len(rooms) == len(topics) + 1  # and "general"
        assert {room.slug for room in rooms if room.topic_id} == {f"topic-{slug}" for slug in topics.values()}
        assert db.session.scalar(select(func.count(Message.id))) > 0
    listed = _room_names(page.get_data(as_text=True))
    assert len(listed) == len(set(listed)) == len(topics) + 1


def test_duplicate_rooms_of_a_topic_are_merged_with_their_messages(app, login_client, people):
    from api.chat.rooms import merge_duplicate_topic_rooms

    learner, admin = people["learner"], people["admin"]
    with app.app_context():
        topic = Topic(slug="python", name="Python", category="programming")
        db.session.add(topic)
        db.session.flush()
        seeded = ChatRoom(kind="public", slug="python", name="Python", topic_id=topic.id)  # an older seeder's name
        made = ChatRoom(kind="public", slug="topic-python", name="Python", topic_id=topic.id)  # the app's
        db.session.add_all([seeded, made])
        db.session.flush()
        now = utcnow()
        for n, room in enumerate([seeded, made, seeded, made]):
            db.session.add(Message(room_id=room.id, sender_id=learner.id, body=f"message {n}",
                                   created_at=now + timedelta(seconds=n)))
        db.session.add(ChatMember(room_id=seeded.id, user_id=learner.id, banned=True))
        db.session.add(ChatMember(room_id=made.id, user_id=learner.id, muted_until=now + timedelta(hours=1)))
        db.session.add(ModerationAction(room_id=seeded.id, moderator_id=admin.id, action="ban",
                                        target_user_id=learner.id))
        db.session.commit()
        made_id = made.id

    page = login_client(admin).get("/chat/rooms/general")
    assert page.status_code == 200
    assert _room_names(page.get_data(as_text=True)).count("topic-python") == 1
    assert "/chat/rooms/python\"" not in page.get_data(as_text=True)
    with app.app_context():
        [room] = db.session.scalars(select(ChatRoom).where(ChatRoom.topic_id.is_not(None))).all()
        assert (room.id, room.slug) == (made_id, "topic-python")
        bodies = db.session.scalars(select(Message.body).where(Message.room_id == room.id).order_by(Message.id)).all()
        assert bodies == ["message 0", "message 1", "message 2", "message 3"]  # every message, in order
        [member] = db.session.scalars(select(ChatMember).where(ChatMember.user_id == learner.id)).all()
        assert member.room_id == room.id and member.banned and member.muted_until is not None  # the stricter of both
        assert db.session.scalar(select(ModerationAction.room_id)) == room.id
        assert merge_duplicate_topic_rooms() == 0  # idempotent
    old_link = login_client(admin).get("/chat/rooms/python")  # links to the old name still lead to the room
    assert old_link.status_code == 301 and old_link.headers["Location"].endswith("/chat/rooms/topic-python")


def test_room_list_collapses_into_a_select_for_narrow_screens(app, login_client, people):
    with app.app_context():
        db.session.add_all([Topic(slug=f"t{n}", name=f"Topic {n}", category="misc") for n in range(30)])
        db.session.commit()
    html = login_client(people["learner"]).get("/chat/rooms/topic-t3").get_data(as_text=True)
    select_html = html.split('<select id="chat-switch">', 1)[1].split("</select>", 1)[0]
    options = re.findall(r'<option value="([^"]+)"( selected)?>', select_html)
    assert len(options) == 31 and [url for url, selected in options if selected] == ["/chat/rooms/topic-t3"]
