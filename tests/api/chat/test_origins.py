"""A real server (`python -m api.server`, eventlet) on a port other than 5000 with no origins configured: a socket
from the page's own origin connects and chats, another origin is refused, and links follow the served address."""
from __future__ import annotations

import json
import shutil
import urllib.request

import pytest
import socketio

from api.benchmarks.chat import USER_AGENT, prepare, start_workers
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


def _connect(url: str, cookie: str, origin: str | None = None, **headers) -> socketio.Client:
    """A /chat client; with `origin`, over long-polling (websocket-client always sends the URL's own Origin)."""
    client = socketio.Client(reconnection=False)
    headers = {"User-Agent": USER_AGENT, "Cookie": f"session={cookie}", **headers}
    if origin:
        headers["Origin"] = origin
    client.connect(url, namespaces=["/chat"], transports=["polling"] if origin else ["websocket"], wait_timeout=10,
                   headers=headers)
    return client


@pytest.fixture
def served(tmp_path, sqlite_template):
    """One eventlet server on a free port, behind one (pretend) proxy, with CORS_ALLOWED_ORIGINS and
    PUBLIC_BASE_URL unset, as after `make run PORT=...`."""
    shutil.copy(sqlite_template, tmp_path / "mentorhub.db")
    settings = make_settings(tmp_path)
    cookies, _ = prepare(settings, 2)
    workers = start_workers(1, settings, tmp_path, extra_env={"CORS_ALLOWED_ORIGINS": "[]", "PUBLIC_BASE_URL": "",
                                                               "FORWARDED_PROXIES": "1"})
    yield workers.urls[0], cookies
    workers.stop()


def test_same_origin_socket_connects_on_any_port_and_a_foreign_origin_is_refused(served):
    url, cookies = served
    assert not url.endswith(":5000")
    first, second = _connect(url, cookies[0]), _connect(url, cookies[1], origin=url)  # a WebSocket, long-polling
    try:
        assert first.call("join", {"room": "general"}, namespace="/chat", timeout=10)["ok"]
        assert second.call("join", {"room": "general"}, namespace="/chat", timeout=10)["ok"]
        reply = first.call("send", {"room": "general", "body": "hello from another port"}, namespace="/chat", timeout=10)
        assert reply["ok"] and reply["message"]["html"] == "hello from another port"
    finally:
        first.disconnect()
        second.disconnect()

    for foreign in ("http://127.0.0.1:5000", "https://evil.example", url.replace("127.0.0.1", "localhost")):
        with pytest.raises(socketio.exceptions.ConnectionError):
            _connect(url, cookies[0], origin=foreign)

    # behind the configured proxy, the origin is the one the browser used: the proxy's scheme and host
    proxied = _connect(url, cookies[0], origin="https://mentorhub.example",
                       **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "mentorhub.example"})
    proxied.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(url, cookies[0], origin="https://evil.example",
                 **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "mentorhub.example"})


def test_links_follow_the_served_address(served):
    url, cookies = served
    request = urllib.request.Request(url + "/api/v1/bookings/calendar",
                                     headers={"User-Agent": USER_AGENT, "Cookie": f"session={cookies[0]}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        feed = json.load(response)["feed_url"]
    assert feed.startswith(url + "/bookings/feed/")
