"""The pub/sub benchmark's app (bench/pubsub.py): WebSockets at /ws that get every message of
the topic "bench", and /publish, which publishes `count` timestamped messages at `rate` per
second from inside a worker."""

import asyncio
import json
import time
from urllib.parse import parse_qsl

import hornbeam


async def app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        forwarding = asyncio.create_task(hornbeam.forward_to_websocket(send, "bench"))
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            forwarding.cancel()
        return
    if scope["type"] != "http":
        return
    query = dict(parse_qsl(scope["query_string"].decode()))
    count, rate = int(query.get("count", "100")), float(query.get("rate", "100"))
    reached = 0
    started = time.monotonic()
    for i in range(count):
        reached += hornbeam.publish("bench", json.dumps({"t": time.time(), "i": i}))
        delay = started + (i + 1) / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps({"reached": reached}).encode()})
