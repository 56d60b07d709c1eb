"""Chat security on real eventlet workers over Redis: ending a session ends its sockets on every worker; what
was stored during a Redis outage reaches the other user once the queue is back; flood control counts across
workers (and falls back to the worker's own count while Redis is down).
"""
from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests

from api.benchmarks.chat import USER_AGENT, prepare, session_cookie_for, start_workers
from tests.api.chat.test_cluster import Listener
from tests.conftest import eventually, make_settings

PORTS = [5110, 5111]  # the app ports this suite may serve on


class RoomListener(Listener):
    """A Listener in a given room that remembers its disconnection and keeps a view of the room like chat.js:
    every message once, by id, whether it came live or in a `join` reply."""

    def __init__(self, url: str, cookie: str, room: str = "general") -> None:
        self.room = room
        self.disconnected = threading.Event()
        self.view: dict[int, dict] = {}
        self.live_ids: list[int] = []
        super().__init__(url, cookie)
        self.client.on("disconnect", lambda *args: self.disconnected.set(), namespace="/chat")

    def _recorder(self, name):
        return self._on_messages if name == "messages" else super()._recorder(name)

    def _on_messages(self, batch):
        with self.arrived:
            self.events.setdefault("messages", []).append(batch)
            for message in batch["messages"]:
                self.live_ids.append(message["id"])
                self.view[message["id"]] = message
            self.arrived.notify_all()

    def join(self, after_id: int | None = None) -> dict:
        reply = self.client.call("join", {"room": self.room, "after_id": after_id}, namespace="/chat", timeout=10)
        with self.arrived:
            for message in reply.get("messages", []):
                self.view[message["id"]] = message
        return reply

    def send(self, body: str) -> dict:
        return self.client.call("send", {"room": self.room, "body": body}, namespace="/chat", timeout=10)

    def bodies(self) -> list[str]:
        with self.arrived:
            return [self.view[i]["html"] for i in sorted(self.view)]

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def _world(tmp_path, sqlite_template, redis_url: str, users: int = 2):
    shutil.copy(sqlite_template, tmp_path / "mentorhub.db")
    channel = f"test-chat-{secrets.token_hex(4)}"
    settings = make_settings(tmp_path, redis_url=redis_url, chat_queue_channel=channel)
    cookies, _ = prepare(settings, users)
    return settings, cookies, {"CHAT_QUEUE_CHANNEL": channel}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of this test alone, on its own port, that the test may stop and start again."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
                                         "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def answers():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        eventually(answers)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


# -- item 5: logging out (or a password change elsewhere) ends the sockets of the old session -------------


def _direct_room_and_password(settings, password: str) -> tuple[str, list[str]]:
    """A one-on-one room of bench users 0 and 1, a password for user 0; the room slug and fresh cookies."""
    from api import create_app
    from api.auth.passwords import hash_password
    from api.chat.rooms import direct_slug
    from api.extensions import db
    from api.tables import ChatMember, ChatRoom, User

    app = create_app(settings=settings)
    with app.app_context():
        first, second = db.session.query(User).order_by(User.id).limit(2).all()
        first.password_hash = hash_password(password)
        slug = direct_slug(first.id, second.id)
        db.session.add(ChatRoom(kind="direct", slug=slug, name="Private",
                                members=[ChatMember(user_id=first.id), ChatMember(user_id=second.id)]))
        db.session.commit()
        cookies = [session_cookie_for(app, user) for user in (first, second)]
        db.session.remove()
        db.engine.dispose()
    return slug, cookies


def _fresh_cookie(settings, email_prefix: str = "bench0") -> str:
    from api import create_app
    from api.extensions import db
    from api.tables import User

    app = create_app(settings=settings)
    with app.app_context():
        user = db.session.query(User).filter(User.email.startswith(email_prefix + "@")).one()
        cookie = session_cookie_for(app, user)
        db.session.remove()
        db.engine.dispose()
    return cookie


class Browser:
    """HTTP calls of the browser that holds a session cookie (kept current from each answer), with its CSRF token."""

    def __init__(self, url: str, cookie: str) -> None:
        self.url, self.cookie = url, cookie
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self.headers["X-CSRFToken"] = self.call("GET", "/api/v1/csrf-token").json()["csrf_token"]

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, self.url + path, headers={**self.headers, "Cookie": f"session={self.cookie}"},
                                    timeout=30, **kwargs)
        self.cookie = response.cookies.get("session") or self.cookie
        return response


@pytest.mark.slow
@pytest.mark.services
def test_ending_a_session_disconnects_its_sockets_on_every_worker(tmp_path, sqlite_template, redis_url):
    settings, _, env = _world(tmp_path, sqlite_template, redis_url)
    password = "an old and long enough passphrase"
    slug, (learner_cookie, mentor_cookie) = _direct_room_and_password(settings, password)
    workers = start_workers(2, settings, tmp_path, extra_env=env, ports=PORTS)
    listeners = []
    try:
        mentor = RoomListener(workers.urls[0], mentor_cookie, slug)
        learner = RoomListener(workers.urls[1], learner_cookie, slug)
        listeners += [mentor, learner]
        assert mentor.join()["ok"] and learner.join()["ok"]
        assert mentor.send("before the log-out")["ok"]
        assert [m["html"] for m in learner.wait_for_messages(1)] == ["before the log-out"]

        # the learner logs out in a browser served by the other worker: the socket on worker 2 is cut
        response = Browser(workers.urls[0], learner_cookie).call("POST", "/api/v1/auth/logout")
        assert response.status_code == 200, response.text
        assert learner.disconnected.wait(10), "the logged-out session's socket stayed connected"
        assert mentor.send("after the log-out")["ok"]
        assert [m["html"] for m in mentor.wait_for_messages(2)][-1] == "after the log-out"
        time.sleep(0.5)
        assert [m["html"] for m in learner.wait_for_messages(1, timeout=0)] == ["before the log-out"]

        # logged in again on two devices; the password is changed on one: the other's socket is cut
        cookie = _fresh_cookie(settings)
        phone = RoomListener(workers.urls[1], cookie, slug)
        listeners.append(phone)
        assert phone.join()["ok"]
        laptop = Browser(workers.urls[0], cookie)
        response = laptop.call("POST", "/api/v1/auth/password/change",
                               json={"current_password": password, "new_password": "a brand new passphrase 2024"})
        assert response.status_code == 200, response.text
        assert phone.disconnected.wait(10), "the other device's socket stayed connected after the password change"
        assert mentor.send("after the password change")["ok"]
        assert [m["html"] for m in mentor.wait_for_messages(3)][-1] == "after the password change"
        time.sleep(0.5)
        assert phone.wait_for_messages(0, timeout=0) == []
        # the device that changed it goes on: a new socket with its renewed session is accepted
        renewed = RoomListener(workers.urls[1], laptop.cookie, slug)
        listeners.append(renewed)
        assert renewed.join()["ok"]
    finally:
        for listener in listeners:
            listener.close()
        workers.stop()


# -- item 9: messages stored during a Redis outage reach the other user once the queue is back ------------


def _settles(listener: RoomListener, expected: list[str], timeout: float) -> None:
    try:
        eventually(lambda: listener.bodies() == expected, timeout=timeout)
    except AssertionError:
        assert listener.bodies() == expected


@pytest.mark.slow
def test_messages_stored_during_a_redis_outage_reach_the_other_worker(tmp_path, sqlite_template):
    redis_server = ThrowawayRedis()
    workers = None
    listeners = []
    try:
        settings, cookies, env = _world(tmp_path, sqlite_template, redis_server.url)
        env["CHAT_FLOOD_MESSAGES"] = "1000"  # this test is about delivery
        workers = start_workers(2, settings, tmp_path, extra_env=env, ports=PORTS)
        sender = RoomListener(workers.urls[0], cookies[0])
        reader = RoomListener(workers.urls[1], cookies[1])
        listeners += [sender, reader]
        assert sender.join()["ok"] and reader.join()["ok"]
        assert sender.send("before the outage")["ok"]
        eventually(lambda: reader.bodies() == ["before the outage"])

        redis_server.stop()
        during = [f"during the outage {n}" for n in range(25)]
        for body in during:  # over about 4 seconds, the worker's publish backing off and trying again
            assert sender.send(body)["ok"], body
            time.sleep(0.16)
        assert reader.send("the reader writes during the outage")["ok"]  # a newer id on the reader's worker
        redis_server.start()

        expected = ["before the outage", *during, "the reader writes during the outage"]
        _settles(reader, expected, timeout=30)
        assert sender.send("after the outage")["ok"]
        _settles(reader, [*expected, "after the outage"], timeout=15)
        assert sorted(reader.bodies()) == sorted(set(reader.bodies()))  # each message once in the reader's view
    finally:
        for listener in listeners:
            listener.close()
        if workers is not None:
            workers.stop()
        redis_server.stop()


# -- item 13: flood control is shared by the workers --------------------------------------------------------


@pytest.mark.slow
@pytest.mark.services
def test_flood_control_counts_across_workers(tmp_path, sqlite_template, redis_url):
    settings, cookies, env = _world(tmp_path, sqlite_template, redis_url, users=1)
    workers = start_workers(2, settings, tmp_path, extra_env=env, ports=PORTS)
    listeners = []
    try:
        first, second = RoomListener(workers.urls[0], cookies[0]), RoomListener(workers.urls[1], cookies[0])
        listeners += [first, second]
        assert first.join()["ok"] and second.join()["ok"]
        replies = [(first if n % 2 else second).send(f"burst {n}") for n in range(16)]
        accepted = [r for r in replies if r["ok"]]
        refused = [r for r in replies if not r["ok"]]
        assert len(accepted) == settings.chat_flood_messages == 8
        assert {r["code"] for r in refused} == {429}
    finally:
        for listener in listeners:
            listener.close()
        workers.stop()


def test_flood_control_counts_in_the_worker_while_redis_is_down():
    from api.chat.flood import FloodControl, SharedFloodControl

    flood = SharedFloodControl("redis://127.0.0.1:1/0", "test-chat-down", local=FloodControl())
    assert [flood.allow(7, 3, 10.0) for _ in range(5)] == [True, True, True, False, False]


@pytest.mark.db
def test_a_reconnecting_client_gets_a_message_that_committed_after_a_newer_one(app, sio, login_client, people):
    """Ids are taken in one order and committed in another (two workers on PostgreSQL): the client saw 2 live,
    then 1 committed while it was away; asking for what came after 2 must bring 1."""
    from datetime import timedelta

    from api.chat.rooms import room_by_slug
    from api.extensions import db
    from api.tables import Message, utcnow
    from tests.api.chat.chat_helpers import ack

    learner, mentor = people["learner"], people["mentor"]
    client = sio(login_client(learner))
    assert ack(client, "join", {"room": "general"})["ok"]
    with app.app_context():
        room_id = room_by_slug("general").id
        now = utcnow()
        db.session.add(Message(id=2, room_id=room_id, sender_id=mentor.id, body="second, committed first",
                               created_at=now, reported_count=0))
        db.session.commit()
        db.session.add(Message(id=1, room_id=room_id, sender_id=mentor.id, body="first, committed late",
                               created_at=now - timedelta(milliseconds=300), reported_count=0))
        db.session.commit()
    reply = ack(client, "join", {"room": "general", "after_id": 2})
    assert reply["ok"] and reply["sync"]
    assert "first, committed late" in [m["html"] for m in reply["messages"]]
