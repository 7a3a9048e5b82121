"""WebSocket apps that put pressure on the connection: large messages, an app that sleeps
before reading a burst, an app sending while its client sends without reading, and an app
holding many unread connections. Served by hornbeam and, in the same tests, by Uvicorn.

Every route appends how the connection ended for the app ("disconnect CODE REASON") to the file
named by the `marker` query parameter."""

import asyncio

from scope_markers import complete_lifespan, mark, query


def ended(scope, message):
    mark(scope, f"disconnect {message.get('code')} {message.get('reason') or '-'}")


async def echo(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return ended(scope, message)
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def counting(scope, receive, send, sender=None):
    """Counts what arrives until the text "done", answers "MESSAGES BYTES" (after `sender`
    finished, if any), then waits for the end."""
    messages = size = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return ended(scope, message)
        if message.get("text") == "done":
            if sender is not None:
                await sender
            await send({"type": "websocket.send", "text": f"{messages} {size}"})
            continue
        messages += 1
        size += len(message.get("bytes") or message.get("text") or "")


async def sleepy(scope, receive, send):
    """Sleeps before its first receive(): what the client sent meanwhile waits unread."""
    await asyncio.sleep(float(query(scope).get("sleep", "1")))
    await counting(scope, receive, send)


async def flood(scope, receive, send):
    """Sends `count` messages of `size` bytes while it reads: with a client that sends without
    reading, both directions are pressured at once."""
    count, size = int(query(scope)["count"]), int(query(scope)["size"])

    async def send_all():
        for number in range(count):
            await send({"type": "websocket.send", "bytes": bytes([number % 256]) * size})

    await counting(scope, receive, send, asyncio.get_running_loop().create_task(send_all()))


ROUTES = {"/echo": echo, "/sleepy": sleepy, "/flood": flood}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await complete_lifespan(receive, send)
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    await ROUTES[scope["path"]](scope, receive, send)
