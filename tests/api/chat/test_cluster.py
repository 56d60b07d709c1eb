"""Real eventlet workers: a message crosses between two workers on Redis, an outside process emits to a room,
and with Redis down a single worker keeps chatting while /healthz says the chat is degraded.
"""
from __future__ import annotations

import json
import secrets
import shutil
import threading
import urllib.request

import pytest
import socketio

from api.benchmarks.chat import USER_AGENT, prepare, start_workers
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


class Listener:
    """A python-socketio client in the general room that remembers what it received."""

    def __init__(self, url: str, cookie: str | None, origin: str | None = None) -> None:
        self.client = socketio.Client(reconnection=False)
        self.events: dict[str, list] = {}
        self.arrived = threading.Condition()
        for name in ("messages", "notice"):
            self.client.on(name, self._recorder(name), namespace="/chat")
        headers = {"User-Agent": USER_AGENT}
        if cookie:
            headers["Cookie"] = f"session={cookie}"
        if origin:
            headers["Origin"] = origin
        self.client.connect(url, namespaces=["/chat"], headers=headers, transports=["websocket"], wait_timeout=10)

    def _recorder(self, name):
        def record(payload):
            with self.arrived:
                self.events.setdefault(name, []).append(payload)
                self.arrived.notify_all()
        return record

    def join(self) -> dict:
        return self.client.call("join", {"room": "general"}, namespace="/chat", timeout=10)

    def send(self, body: str) -> dict:
        return self.client.call("send", {"room": "general", "body": body}, namespace="/chat", timeout=10)

    def wait_for(self, name: str, count: int = 1, timeout: float = 10) -> list:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.events.get(name, [])) >= count, timeout=timeout)
            return list(self.events.get(name, []))

    def wait_for_messages(self, count: int = 1, timeout: float = 10) -> list:
        """The chat messages received so far (from every `messages` batch), once at least `count` arrived."""
        def messages():
            return [m for batch in self.events.get("messages", []) for m in batch["messages"]]

        with self.arrived:
            self.arrived.wait_for(lambda: len(messages()) >= count, timeout=timeout)
            return messages()

    def close(self) -> None:
        self.client.disconnect()


def _world(tmp_path, sqlite_template, redis_url: str):
    shutil.copy(sqlite_template, tmp_path / "mentorhub.db")
    settings = make_settings(tmp_path, redis_url=redis_url, chat_queue_channel=f"test-chat-{secrets.token_hex(4)}")
    cookies, room_id = prepare(settings, 3)
    return settings, cookies, room_id


@pytest.mark.services
def test_a_message_crosses_between_two_workers_on_redis(tmp_path, sqlite_template, redis_url):
    from api.chat.queue import external_emitter

    settings, cookies, room_id = _world(tmp_path, sqlite_template, redis_url)
    workers = start_workers(2, settings, tmp_path, extra_env={"CHAT_QUEUE_CHANNEL": settings.chat_queue_channel})
    listeners = []
    try:
        first, second = Listener(workers.urls[0], cookies[0]), Listener(workers.urls[1], cookies[1])
        listeners += [first, second]
        assert first.join()["ok"] and second.join()["ok"]
        assert first.send("hello from worker one")["ok"]
        [crossed] = second.wait_for_messages()
        assert crossed["html"] == "hello from worker one"
        assert second.send("and back from worker two")["ok"]
        assert [m["html"] for m in first.wait_for_messages(2)][-1] == "and back from worker two"
        for n in range(6):  # quickly (within flood control): they cross in batches, all of them, in order
            first.client.emit("send", {"room": "general", "body": f"burst {n}"}, namespace="/chat")
        crossed = [m["html"] for m in second.wait_for_messages(8)][2:]
        assert crossed == [f"burst {n}" for n in range(6)]

        external_emitter(settings).to_room(room_id, "notice", {"text": "maintenance at 18:00"})
        assert first.wait_for("notice") == second.wait_for("notice") == [{"text": "maintenance at 18:00"}]
        with urllib.request.urlopen(workers.urls[0] + "/healthz", timeout=5) as response:
            assert json.load(response)["checks"]["chat"] == "ok"

        with pytest.raises(socketio.exceptions.ConnectionError):
            Listener(workers.urls[0], None)  # no session: refused
        with pytest.raises(socketio.exceptions.ConnectionError):
            Listener(workers.urls[0], cookies[2], origin="https://evil.example")  # another site: refused
    finally:
        for listener in listeners:
            listener.close()
        workers.stop()


def test_with_redis_down_a_single_worker_keeps_chatting(tmp_path, sqlite_template):
    settings, cookies, _ = _world(tmp_path, sqlite_template, "redis://127.0.0.1:1/0")
    workers = start_workers(1, settings, tmp_path)
    listeners = []
    try:
        first, second = Listener(workers.urls[0], cookies[0]), Listener(workers.urls[0], cookies[1])
        listeners += [first, second]
        assert first.join()["ok"] and second.join()["ok"]
        assert first.send("still here")["ok"]
        assert [m["html"] for m in second.wait_for_messages()] == ["still here"]
        with urllib.request.urlopen(workers.urls[0] + "/healthz", timeout=5) as response:
            health = json.load(response)
        assert health["checks"]["chat"] == "degraded" and health["status"] == "degraded"
    finally:
        for listener in listeners:
            listener.close()
        workers.stop()
