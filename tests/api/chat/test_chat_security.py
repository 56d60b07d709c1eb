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

import pytest

from api.chat.bench import prepare, start_workers
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

