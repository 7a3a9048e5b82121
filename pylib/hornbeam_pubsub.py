# The Python half of hornbeam's pub/sub (docs/pubsub.md), run in the namespace of the
# `hornbeam` module: compiled into hornbeam-worker, whose C half (python/pubsub_module.cpp)
# carries bytes between workers, and run by pylib/hornbeam.py over process-local primitives.
# Those are _ps_publish, _ps_subscribe, _ps_take, _ps_wait, _ps_fileno, _ps_dropped and
# _ps_close; this half encodes messages and gives subscriptions blocking and async iteration.
# Not a module to import by itself.
#
# On the wire a str is its UTF-8 as it is (so that other programs publish and read plain
# text), bytes are b"\0b" + the bytes, anything else b"\0j" + its JSON.

import json as _json

MAX_MESSAGE = 64 * 1024


def _message_bytes(message):
    if isinstance(message, str):
        return message.encode("utf-8", "surrogatepass")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return b"\0b" + bytes(message)
    return b"\0j" + _json.dumps(message, separators=(",", ":")).encode()


def _message_value(payload):
    if payload[:2] == b"\0b":
        return payload[2:]
    if payload[:2] == b"\0j":
        return _json.loads(payload[2:])
    try:
        return payload.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return payload  # from another program, not text: the bytes


def publish(topic, message):
    """publish(topic, message) -> int: sends message (str, bytes, or anything JSON can
    encode; 64 KiB at most) to every subscriber of topic, in every worker. Returns how many
    receivers it reached: subscriptions on this host, or Redis's count of workers."""
    if not isinstance(topic, str):
        raise TypeError(f"topics are str, not {type(topic).__name__}")
    return _ps_publish(topic, _message_bytes(message))


class Subscription:
    """What subscribe() returns: iterate it (`for` in a thread, `async for` on an event
    loop) to get (topic, message) pairs; close it (or leave its `with` block) to stop."""

    def __init__(self, topics, timeout):
        self.topics = topics
        self.timeout = timeout
        self._handle = _ps_subscribe(list(topics))

    @property
    def closed(self):
        return self._handle is None

    @property
    def dropped(self):
        """Messages this subscription lost because it fell 1,000 behind."""
        return 0 if self._handle is None else _ps_dropped(self._handle)

    def close(self):
        if self._handle is not None:
            handle, self._handle = self._handle, None
            _ps_close(handle)

    def __del__(self):
        self.close()

    def get(self, timeout=None):
        """The next (topic, message), waiting at most timeout seconds (None: no limit); None
        when none came in time."""
        while self._handle is not None:
            item = _ps_take(self._handle)
            if item is not None:
                return item[0], _message_value(item[1])
            if not _ps_wait(self._handle, -1 if timeout is None else timeout):
                return None
        raise ValueError("the subscription is closed")

    def get_nowait(self):
        """The next (topic, message) if one is there, else None."""
        if self._handle is None:
            raise ValueError("the subscription is closed")
        item = _ps_take(self._handle)
        return None if item is None else (item[0], _message_value(item[1]))

    def __iter__(self):
        return self

    def __next__(self):
        """The next (topic, message); None when `timeout` (subscribe's) passed without one,
        so that a server-sent-events loop can send a keep-alive."""
        if self._handle is None:
            raise StopIteration
        return self.get(self.timeout)

    def __aiter__(self):
        return self

    async def __anext__(self):
        import asyncio

        while True:
            if self._handle is None:
                raise StopAsyncIteration
            item = _ps_take(self._handle)
            if item is not None:
                return item[0], _message_value(item[1])
            loop = asyncio.get_running_loop()
            ready = loop.create_future()
            fd = _ps_fileno(self._handle)
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await ready
            finally:
                loop.remove_reader(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return f"<hornbeam.Subscription {self.topics!r}{' closed' if self.closed else ''}>"


def subscribe(*topics, timeout=None):
    """subscribe(*topics, timeout=None) -> Subscription of the messages published to these
    topics from now on, by any worker. `for topic, message in subscription` blocks (yielding
    None every `timeout` seconds without a message); `async for` waits on the event loop."""
    if not topics:
        raise TypeError("subscribe() needs at least one topic")
    for topic in topics:
        if not isinstance(topic, str):
            raise TypeError(f"topics are str, not {type(topic).__name__}")
    return Subscription(topics, timeout)


async def forward_to_websocket(send, *topics, with_topic=False):
    """Sends every message of these topics to an ASGI WebSocket as a frame until cancelled
    (cancel it when the client goes): str as text, bytes as binary, anything else as its
    JSON text; with_topic=True sends {"topic": ..., "message": ...} as JSON text instead (a
    bytes message as latin-1 text there). One task per subscription: do not iterate the same
    Subscription from two tasks at once."""
    async with subscribe(*topics) as subscription:
        async for topic, message in subscription:
            if with_topic:
                await send({"type": "websocket.send",
                            "text": _json.dumps({"topic": topic, "message": _plain_text(message)})})
            elif isinstance(message, bytes):
                await send({"type": "websocket.send", "bytes": message})
            elif isinstance(message, str):
                await send({"type": "websocket.send", "text": message})
            else:
                await send({"type": "websocket.send", "text": _json.dumps(message)})


def _plain_text(message):
    return message.decode("latin-1") if isinstance(message, bytes) else message
