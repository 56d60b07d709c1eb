"""The clients of `mentorhub bench chat`: python-socketio clients spread over several processes.

Each client process connects its share of the clients (each to a worker in turn), joins them to the
room, reports ready, and at the common start time sends its share of the messages through the same
`send` event the web client uses. A message carries its sequence number and send time in its
`client_id`, so every client, in whichever process, counts each message it receives once and its
latency (receive time minus send time, on the machine's shared wall clock).
"""
from __future__ import annotations

import asyncio
import json
import time
from array import array
from dataclasses import dataclass, field

try:
    import orjson
except ImportError:  # pragma: no cover
    orjson = None

ROOM = "general"


class fast_json:
    """The json module of the clients' python-socketio: orjson (installed with Prefect) when there, as they
    decode every frame; else the standard library's."""

    @staticmethod
    def dumps(value, **kwargs) -> str:
        return orjson.dumps(value).decode() if orjson else json.dumps(value, **kwargs)

    @staticmethod
    def loads(text, **kwargs):
        return orjson.loads(text) if orjson else json.loads(text, **kwargs)
NAMESPACE = "/chat"


@dataclass
class Share:
    """What one client process does."""

    number: int  # this process, 0..processes-1: it sends messages number, number + processes, ...
    processes: int
    urls: list[str]
    cookies: list[str]  # the session cookies of its clients
    first_client: int  # the overall index of its first client (client i connects to urls[i % len(urls)])
    rate: float  # messages per second, in all
    total: int  # messages, in all
    user_agent: str
    connect_concurrency: int = 25


@dataclass
class Tally:
    """What one client process measured."""

    clients: int
    received: int = 0  # distinct (client, message) deliveries
    latency_ms: array = field(default_factory=lambda: array("d"))
    ack_ms: array = field(default_factory=lambda: array("d"))  # send to acknowledgement (stored)
    acked_ok: int = 0
    send_errors: dict[str, int] = field(default_factory=dict)
    disconnects: int = 0  # clients dropped before the end
    sending_seconds: float = 0.0
    finished: bool = False  # the measurement is over: disconnects from here on are ours
    last_presence: float = 0.0  # when the last presence notice arrived


def client_id(seq: int, sent_at: float) -> str:
    return f"b{seq}:{sent_at:.6f}"


def parse_client_id(value) -> tuple[int, float] | None:
    if not isinstance(value, str) or not value.startswith("b"):
        return None
    seq, _, sent_at = value[1:].partition(":")
    return int(seq), float(sent_at)


class Receiver:
    """Counts the messages of `messages` batches for one client; each message once."""

    def __init__(self, tally: Tally, total: int) -> None:
        self.tally = tally
        self.seen = bytearray(total)

    def __call__(self, batch: dict) -> None:
        now = time.time()
        latency = self.tally.latency_ms
        received = 0
        for message in batch["messages"]:
            parsed = parse_client_id(message.get("client_id"))
            if parsed is None:
                continue
            seq, sent_at = parsed
            if self.seen[seq]:
                continue
            self.seen[seq] = 1
            received += 1
            latency.append((now - sent_at) * 1000.0)
        self.tally.received += received


async def _connect_all(share: Share, tally: Tally) -> list:
    import socketio

    sockets: list = []
    gate = asyncio.Semaphore(share.connect_concurrency)

    def on_disconnect(*args):
        if not tally.finished:
            tally.disconnects += 1

    def on_presence(notice):
        tally.last_presence = time.time()

    async def connect(index: int, cookie: str):
        client = socketio.AsyncClient(reconnection=False, request_timeout=30, json=fast_json)
        client.on("messages", Receiver(tally, share.total), namespace=NAMESPACE)
        client.on("disconnect", on_disconnect, namespace=NAMESPACE)
        client.on("presence", on_presence, namespace=NAMESPACE)
        url = share.urls[(share.first_client + index) % len(share.urls)]
        async with gate:
            await client.connect(url, namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=30,
                                 headers={"Cookie": f"session={cookie}", "User-Agent": share.user_agent})
            reply = await client.call("join", {"room": ROOM}, namespace=NAMESPACE, timeout=60)
        if not reply or not reply.get("ok"):
            raise RuntimeError(f"client {share.first_client + index} could not join: {reply}")
        sockets.append(client)

    await asyncio.gather(*(connect(i, cookie) for i, cookie in enumerate(share.cookies)))
    return sockets


async def _settle(tally: Tally, quiet: float = 1.0, longest: float = 120.0) -> None:
    """Wait until no presence notice (one per join, to every client) arrived for `quiet` seconds."""
    started = time.time()
    while time.time() - max(tally.last_presence, started) < quiet and time.time() - started < longest:
        await asyncio.sleep(0.1)


async def _send_share(share: Share, sockets: list, tally: Tally, begin: float) -> None:
    """Send messages number, number + processes, ... each at begin + seq / rate."""

    def acknowledgement(sent_at: float):
        def acked(reply):
            if reply and reply.get("ok"):
                tally.acked_ok += 1
                tally.ack_ms.append((time.time() - sent_at) * 1000.0)
            else:
                error = (reply or {}).get("error", "no answer")
                tally.send_errors[error] = tally.send_errors.get(error, 0) + 1
        return acked

    interval = 1.0 / share.rate
    for turn, seq in enumerate(range(share.number, share.total, share.processes)):
        delay = begin + seq * interval - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sender = sockets[turn % len(sockets)]
        sent_at = time.time()
        await sender.emit("send", {"room": ROOM, "body": f"bench message {seq}", "client_id": client_id(seq, sent_at)},
                          namespace=NAMESPACE, callback=acknowledgement(sent_at))
    tally.sending_seconds = time.time() - begin


async def _run(share: Share, conn) -> Tally:
    tally = Tally(clients=len(share.cookies))
    sockets = await _connect_all(share, tally)
    await _settle(tally)
    loop = asyncio.get_running_loop()
    conn.send(("ready", len(sockets)))
    begin, deadline = await loop.run_in_executor(None, conn.recv)
    await _send_share(share, sockets, tally, begin)
    expected = share.total * len(sockets)
    while tally.received < expected and time.time() < deadline:
        await asyncio.sleep(0.05)
    tally.finished = True
    await asyncio.gather(*(s.disconnect() for s in sockets), return_exceptions=True)
    return tally


def client_process(share: Share, conn) -> None:
    """The entry point of a client process: connect, report ready, wait for (begin, deadline), send, report."""
    try:
        conn.send(("done", asyncio.run(_run(share, conn))))
    except BaseException as error:  # the parent reports it
        conn.send(("failed", f"{type(error).__name__}: {error}"))
        raise
    finally:
        conn.close()
