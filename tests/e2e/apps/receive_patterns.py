"""ASGI apps using receive() the way real apps do: with timeouts, cancelled, from several
tasks at once. Served by hornbeam and, in the same tests, by Uvicorn.

Routes that report something the response cannot carry (the client is gone) append it to the
file named by the `marker` query parameter."""

import asyncio
import hashlib
import json
import random

from scope_markers import complete_lifespan, mark, query


async def respond(send, body, status=200):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def timeouts_then_answer(scope, receive, send):
    """Two receive() calls that time out while the client waits, then the answer."""
    body = await read_body(receive)
    timeouts = 0
    for _ in range(2):
        try:
            await asyncio.wait_for(receive(), 0.1)
        except asyncio.TimeoutError:
            timeouts += 1
    await respond(send, f"{len(body)} bytes, {timeouts} timeouts".encode())


async def upload_with_cancellations(scope, receive, send):
    """Reads a streamed upload while cancelling receive() at random, three ways: a timeout, a
    cancelled task, and a cancellation that lands right after the message arrived. Every byte
    must still arrive exactly once and in order."""
    rng = random.Random(int(query(scope).get("seed", "1")))
    digest = hashlib.sha256()
    length = 0
    cancelled = 0
    loop = asyncio.get_running_loop()
    while True:
        way = rng.randrange(4)
        try:
            if way == 0:
                message = await asyncio.wait_for(receive(), rng.uniform(0, 0.002))
            elif way == 1:
                task = loop.create_task(receive())
                await asyncio.sleep(rng.uniform(0, 0.002))
                task.cancel()
                message = await task
            elif way == 2:
                # Cancelled by a timer that may fire in the same turn of the loop as the message
                # arrives: then the task is cancelled after its receive() was given the message,
                # which must not be lost.
                task = loop.create_task(receive())
                timer = loop.create_task(asyncio.sleep(rng.uniform(0, 0.002)))
                await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
                task.cancel()
                timer.cancel()
                message = await task
            else:
                message = await receive()
        except asyncio.CancelledError:
            cancelled += 1
            continue
        except asyncio.TimeoutError:
            cancelled += 1
            continue
        assert message["type"] == "http.request", message
        chunk = message.get("body", b"")
        digest.update(chunk)
        length += len(chunk)
        if not message.get("more_body"):
            break
    await respond(send, json.dumps({"length": length, "sha256": digest.hexdigest(),
                                    "cancelled": cancelled}).encode())


async def two_waiters(scope, receive, send):
    """Two tasks wait in receive() at once after the body, until the client leaves: both must
    get http.disconnect, and so must a receive() after that."""
    await read_body(receive)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"waiting\n", "more_body": True})
    loop = asyncio.get_running_loop()
    first = loop.create_task(receive())
    second = loop.create_task(receive())
    messages = await asyncio.gather(first, second)
    later = await receive()
    mark(scope, " ".join(message["type"] for message in [*messages, later]))


async def cancelled_after_delivery(scope, receive, send):
    """Drives one receive() by hand, as a task does: it waits, its message arrives, and the
    CancelledError is thrown in before it could return it (a task cancelled in the same turn
    of the loop as its wake-up). The message must go to the next receive(), not be lost."""
    first = await receive()
    body = first.get("body", b"")
    more = first.get("more_body", False)
    put_back = False
    if more:
        iterator = receive().__await__()
        try:
            waited_on = iterator.send(None)
        except StopIteration as ready:  # the rest was there already
            message = ready.value
        else:
            while not waited_on.done():
                await asyncio.sleep(0.005)
            try:
                iterator.throw(asyncio.CancelledError())
            except asyncio.CancelledError:
                put_back = True
            message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await respond(send, json.dumps({"length": len(body), "put_back": put_back}).encode())


async def abandons_a_receive(scope, receive, send):
    """Takes the first piece of the body, leaves a receive() waiting for the next in a task
    that it then cancels, and answers without reading on: what the waiting receive() had
    lent to the socket's reads must outlive the exchange until the read is over."""
    first = await receive()
    task = asyncio.get_running_loop().create_task(receive())
    await asyncio.sleep(0.05)  # the task waits, the rest of the body not sent yet
    task.cancel()
    await respond(send, b"%d then gave up" % len(first.get("body", b"")))


ROUTES = {
    "/abandons-a-receive": abandons_a_receive,
    "/cancelled-after-delivery": cancelled_after_delivery,
    "/timeouts": timeouts_then_answer,
    "/upload": upload_with_cancellations,
    "/two-waiters": two_waiters,
}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await complete_lifespan(receive, send)
    route = ROUTES.get(scope["path"])
    if route is None:
        return await respond(send, b"no such route\n", 404)
    await route(scope, receive, send)
