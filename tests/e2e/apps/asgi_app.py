"""ASGI test app: one route per behaviour of the ASGI HTTP spec that the tests check.

Routes that must report something the response cannot carry (the client is gone) write it to
the file named by the `marker` query parameter."""

import asyncio
import contextvars
import inspect
import json
import os
import weakref
from _weakrefset import _IterationGuard
from collections.abc import Mapping
from urllib.parse import parse_qsl

from scope_markers import mark, query


async def respond(send, status=200, body=b"", headers=None, content_type=b"text/plain"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive):
    """The whole body and the number of http.request messages it came in."""
    chunks = []
    messages = 0
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        messages += 1
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), messages


def printable(value):
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, (list, tuple)):
        return {"type": type(value).__name__, "items": [printable(item) for item in value]}
    if isinstance(value, Mapping):  # dict, and the shared lifespan state
        return {key: printable(item) for key, item in value.items()}
    return value


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["started_by"] = "lifespan"
            await send({"type": "lifespan.startup.complete"})
        else:
            marker = os.environ.get("HB_TEST_SHUTDOWN_MARKER")
            if marker:
                with open(marker, "w") as done:
                    done.write("shutdown ran\n")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    route = ROUTES.get(scope["path"])
    if route is None:
        return await respond(send, 404, b"no such route\n")
    await route(scope, receive, send)


async def scope_json(scope, receive, send):
    body, messages = await read_body(receive)
    shown = {key: printable(value) for key, value in scope.items()}
    shown["state_is_dict"] = isinstance(scope.get("state"), dict)
    shown["body"] = body.decode("latin-1")
    shown["messages"] = messages
    await respond(send, body=json.dumps(shown).encode(), content_type=b"application/json")


async def echo(scope, receive, send):
    body, messages = await read_body(receive)
    await respond(send, body=json.dumps({"length": len(body), "messages": messages,
                                         "sha": __import__("hashlib").sha256(body).hexdigest()}).encode())


async def late_echo(scope, receive, send):
    """Reads the body only after a pause (so that all of it has arrived), and says the size of
    each http.request message and whether a body came in the last one."""
    await asyncio.sleep(0.3)
    sizes = []
    # In the same step as the first receive(), which lends its memory on the call: once the
    # mark is there, so is the lend.
    mark(scope, "receiving")
    while True:
        message = await receive()
        sizes.append(len(message.get("body", b"")))
        if not message.get("more_body", False):
            break
    await respond(send, body=json.dumps({"sizes": sizes}).encode())


async def body_or_disconnect(scope, receive, send):
    """Reads the body; answers 200 with what the last receive() gave (a malformed body must
    still get 400 from the server)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            break
    await respond(send, body=message["type"].encode())


async def count(scope, receive, send):
    """Counts the body's bytes without keeping them (memory stays flat however large it is)."""
    total = 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await respond(send, body=str(total).encode())


async def sleep(scope, receive, send):
    mark(scope, "sleeping")
    await asyncio.sleep(float(query(scope).get("seconds", "1")))
    await respond(send, body=b"slept\n")


async def blocking_sleep(scope, receive, send):
    """Blocks the whole loop (what a buggy app does): the arbiter's timeout must catch it."""
    import time

    def stuck_in_blocking_sleep():
        time.sleep(float(query(scope).get("seconds", "60")))

    stuck_in_blocking_sleep()
    await respond(send, body=b"woke\n")


async def stream(scope, receive, send):
    """Server-sent events: one event per interval until `count`, or until the client leaves."""
    count = int(query(scope).get("count", "1000"))
    interval = float(query(scope).get("interval", "0.1"))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    try:
        for number in range(count):
            await send({"type": "http.response.body", "body": f"data: {number}\n\n".encode(), "more_body": True})
            await asyncio.sleep(interval)
    except OSError as error:
        mark(scope, f"send raised {type(error).__name__}")
        return
    await send({"type": "http.response.body", "body": b""})


async def long_poll(scope, receive, send):
    """Waits for a message that never comes: only the client leaving ends it."""
    await read_body(receive)
    mark(scope, "waiting")
    message = await receive()
    mark(scope, message["type"])


async def no_response(scope, receive, send):
    return


async def start_only(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def raise_before(scope, receive, send):
    raise ValueError("raised before the response started")


async def raise_midway(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise ValueError("raised in the middle of the body")


async def spec_errors(scope, receive, send):
    """Each misuse of send() must raise RuntimeError; the body lists what each raised."""
    raised = {}
    await read_body(receive)

    async def attempt(name, message):
        try:
            await send(message)
            raised[name] = None
        except Exception as error:  # noqa: BLE001 - the type is what is checked
            raised[name] = type(error).__name__

    await attempt("body_before_start", {"type": "http.response.body", "body": b"x"})
    await attempt("unknown_type", {"type": "http.response.bogus"})
    await attempt("trailers_unannounced", {"type": "http.response.trailers", "headers": []})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await attempt("start_twice", {"type": "http.response.start", "status": 200, "headers": []})
    body = json.dumps(raised).encode()
    await send({"type": "http.response.body", "body": body})
    try:
        await send({"type": "http.response.body", "body": b"more"})
        mark(scope, "after_complete: None")
    except Exception as error:  # noqa: BLE001
        mark(scope, f"after_complete: {type(error).__name__}")
    # After the response, receive() says the exchange is over.
    message = await receive()
    mark(scope, f"receive after the response: {message['type']}")


async def bad_header(scope, receive, send):
    await respond(send, headers=[(b"x-split", b"a\r\nSet-Cookie: evil=1")])


async def bad_content_length(scope, receive, send):
    """A Content-Length that is no length, or two that disagree: a body framed two ways."""
    lengths = [b"-1"] if scope["query_string"] != b"two" else [b"1", b"2"]
    await respond(send, body=b"x", headers=[(b"content-length", length) for length in lengths])


async def interrupts(scope, receive, send):
    """SystemExit or KeyboardInterrupt from the app: in the request (?exit, ?interrupt), or in
    a task it leaves behind (?task-exit), which asyncio carries out of the loop's run_forever."""
    kind = scope["query_string"].decode()
    if kind == "exit":
        raise SystemExit(3)
    if kind == "interrupt":
        raise KeyboardInterrupt
    if kind == "task-exit":
        async def leaves():
            await asyncio.sleep(0.01)
            raise SystemExit(4)
        asyncio.get_running_loop().create_task(leaves())
    await respond(send, body=b"answered\n")


async def header_rules(scope, receive, send):
    await respond(send, body=b"ok\n", headers=[
        (b"connection", b"close"), (b"transfer-encoding", b"gzip"), (b"keep-alive", b"timeout=99"),
        (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"x-kept", b"yes")])


async def trailers(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "trailers": True,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"first ", "more_body": True})
    await send({"type": "http.response.body", "body": b"second"})
    await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc123")], "more_trailers": True})
    await send({"type": "http.response.trailers", "headers": [(b"x-count", b"2")]})


async def pathsend(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
    await send({"type": "http.response.pathsend", "path": query(scope)["path"]})


async def big(scope, receive, send):
    """`megabytes` MiB in 1 MiB pieces; marks when every send() has returned."""
    megabytes = int(query(scope).get("megabytes", "64"))
    piece = b"x" * (1 << 20)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(megabytes << 20).encode())]})
    for number in range(megabytes):
        await send({"type": "http.response.body", "body": piece, "more_body": number + 1 < megabytes})
    mark(scope, "all sent")


async def state(scope, receive, send):
    """The lifespan state as this request sees it; ?key=value writes to it first."""
    for key, value in parse_qsl(scope["query_string"].decode()):
        scope["state"][key] = value
    seen = dict(scope.get("state", {}))
    await respond(send, body=json.dumps(seen).encode(), content_type=b"application/json")


async def state_as_dict(scope, receive, send):
    """dict's methods on the state: each must go through the shared view."""
    state = scope["state"]
    merged = state | {"merged": 1}
    state |= {"merged": 1}
    after_ior = state.get("merged")
    del state["merged"]
    answer = {"isinstance": isinstance(state, dict), "get": state.get("started_by"),
              "copy": state.copy(), "merged": merged, "after_ior": after_ior,
              "items": sorted(state.items())}
    await respond(send, body=json.dumps(answer).encode(), content_type=b"application/json")


async def task(scope, receive, send):
    """The name of the task running this request (asyncio.current_task() must be set)."""
    await respond(send, body=asyncio.current_task().get_name().encode())


async def task_coroutine(scope, receive, send):
    """What inspect says of the request task's coroutine, before and after a suspension (anyio
    asks it to know whether a task has started), and whether a ContextVar set by an earlier
    request leaks into this one (each request runs in a context of its own)."""
    coroutine = asyncio.current_task().get_coro()
    states = [inspect.getcoroutinestate(coroutine)]
    await asyncio.sleep(0)
    states.append(inspect.getcoroutinestate(coroutine))
    leaked = REQUEST_MARK.get()
    REQUEST_MARK.set("set by an earlier request")
    await respond(send, body=json.dumps({"states": states, "leaked": leaked}).encode())


async def all_tasks(scope, receive, send):
    """What asyncio.all_tasks() says while tasks come and go (the worker keeps asyncio's task
    registry with C functions of its own, python/task_registry.hpp): the request's own task is
    listed, tasks it made are listed while they live and not once they are gone, also when
    one dies while the registry is being iterated over."""
    # Python 3.12 renamed it (and keeps eager tasks apart).
    registry = getattr(asyncio.tasks, "_scheduled_tasks", None)
    if registry is None:
        registry = asyncio.tasks._all_tasks
    answer = {"own_listed": asyncio.current_task() in asyncio.all_tasks(),
              "fast_add": "add" in vars(registry)}

    async def pause():
        await asyncio.sleep(0)

    made = [asyncio.get_running_loop().create_task(pause()) for _ in range(10)]
    answer["made_listed"] = sum(task in asyncio.all_tasks() for task in made)
    made_refs = [weakref.ref(task) for task in made]
    await asyncio.gather(*made)
    del made
    await asyncio.sleep(0)
    answer["made_freed"] = sum(reference() is None for reference in made_refs)
    answer["dead_left_in_registry"] = sum(reference() is None for reference in registry.data)

    # A task that dies while the registry is iterated over (what WeakSet.__iter__ holds)
    # waits in _pending_removals; the next task's registration commits the removal.
    loop = asyncio.get_running_loop()
    dying = loop.create_task(pause())
    await dying
    await asyncio.sleep(0)  # the wake-up that `await dying` resumed by holds it until then
    dying_ref = weakref.ref(dying)
    with _IterationGuard(registry):
        del dying
        answer["dying_freed"] = dying_ref() is None
        answer["pending_while_iterating"] = len(registry._pending_removals)
        newcomer = loop.create_task(pause())
        answer["pending_after_next_task"] = len(registry._pending_removals)
    await newcomer
    await respond(send, body=json.dumps(answer).encode(), content_type=b"application/json")


REQUEST_MARK = contextvars.ContextVar("request_mark", default=None)


class CallableApp:
    """An app whose __call__ is a plain function returning the awaitable, as middleware
    written as classes often is; it marks the context when called, which must be the
    request's own context (not leak into the next request)."""

    def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            leaked = REQUEST_MARK.get()
            REQUEST_MARK.set("set when called")
            return respond(send, body=json.dumps({"leaked": leaked}).encode())
        return app(scope, receive, send)


callable_app = CallableApp()


class AwaitableResponse:
    """Not a coroutine: an object whose __await__ answers the request."""

    def __init__(self, send):
        self.send = send

    def __await__(self):
        return respond(self.send, body=b"answered by __await__").__await__()


def awaitable_app(scope, receive, send):
    """A plain function returning an awaitable that is no coroutine."""
    if scope["type"] == "http":
        return AwaitableResponse(send)
    return app(scope, receive, send)


ROUTES = {
    "/scope": scope_json,
    "/task": task,
    "/task-coroutine": task_coroutine,
    "/all-tasks": all_tasks,
    "/echo": echo,
    "/late-echo": late_echo,
    "/count": count,
    "/sleep": sleep,
    "/blocking-sleep": blocking_sleep,
    "/stream": stream,
    "/long-poll": long_poll,
    "/no-response": no_response,
    "/start-only": start_only,
    "/raise-before": raise_before,
    "/raise-midway": raise_midway,
    "/spec-errors": spec_errors,
    "/bad-header": bad_header,
    "/bad-content-length": bad_content_length,
    "/interrupts": interrupts,
    "/header-rules": header_rules,
    "/trailers": trailers,
    "/pathsend": pathsend,
    "/big": big,
    "/state": state,
    "/body-or-disconnect": body_or_disconnect,
    "/state-as-dict": state_as_dict,
}


async def with_task_factory(scope, receive, send):
    """`app`, with a task factory installed at startup (as instrumentation libraries do): the
    server must create request tasks through it."""
    loop = asyncio.get_running_loop()
    if scope["type"] == "lifespan" and loop.get_task_factory() is None:
        def factory(loop, coro, **kwargs):
            made = asyncio.Task(coro, loop=loop, **kwargs)
            made.set_name("made by the app's factory")
            return made
        loop.set_task_factory(factory)
    await app(scope, receive, send)


async def lifespan_fails(scope, receive, send):
    """Refuses to start, as an app whose database is down would."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})


async def lifespan_raises(scope, receive, send):
    """Supports only HTTP, and says so by raising on other scopes, as Django does."""
    if scope["type"] != "http":
        raise ValueError(f"only HTTP, not {scope['type']}")
    await respond(send, body=b"served without lifespan\n")


async def websocket_app(scope, receive, send):
    """WebSocket routes: /echo, /push (sends every 100 ms unprompted), /deny (403), /teapot
    (a custom refusal), /subprotocol, /close (the app closes with 4001), /raise. Each connection
    writes what the app saw last into the `marker` file."""
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    if scope["type"] == "http":
        return await app(scope, receive, send)
    path = scope["path"]
    message = await receive()
    assert message["type"] == "websocket.connect"
    if path == "/deny":
        return await send({"type": "websocket.close"})
    if path == "/teapot":
        await send({"type": "websocket.http.response.start", "status": 418,
                    "headers": [(b"content-type", b"text/plain")]})
        return await send({"type": "websocket.http.response.body", "body": b"no websockets here\n"})
    if path == "/raise":
        raise ValueError("raised during the handshake")
    offered = scope["subprotocols"]
    await send({"type": "websocket.accept", "subprotocol": offered[-1] if offered else None,
                "headers": [(b"x-accepted-by", b"asgi_app")]})
    if path == "/push":
        async def pusher():
            number = 0
            while True:
                await send({"type": "websocket.send", "text": f"push {number}"})
                number += 1
                await asyncio.sleep(0.1)

        task = asyncio.get_running_loop().create_task(pusher())
        message = await receive()
        task.cancel()
        mark(scope, f"{message['type']} {message.get('code')}")
        return
    if path == "/raise-after-accept":
        await receive()
        raise ValueError("raised after the handshake")
    if path == "/send-after-close":
        message = await receive()
        try:
            await send({"type": "websocket.send", "text": "too late"})
            mark(scope, f"{message['type']} then send: no error")
        except Exception as error:  # noqa: BLE001 - the type is what is checked
            mark(scope, f"{message['type']} then send: {type(error).__name__}")
        return
    if path == "/close":
        await send({"type": "websocket.close", "code": 4001, "reason": "app says bye"})
        message = await receive()
        mark(scope, f"{message['type']} {message.get('code')}")
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            mark(scope, f"websocket.disconnect {message['code']}")
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
