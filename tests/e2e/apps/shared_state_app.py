"""Apps over the shared state (the `hornbeam` module): `app` (WSGI) and `asgi_app` (ASGI,
with a lifespan that fills the shared state). Every response says which worker served it
(X-Pid), so tests can tell the workers apart."""

import hashlib
import json
import os
import random
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl

import hornbeam
import state_api_checks


def checksummed(seed, size):
    body = random.Random(seed).randbytes(size)
    return hashlib.sha256(body).digest() + body


def intact(value):
    return isinstance(value, bytes) and hashlib.sha256(value[32:]).digest() == value[:32]


# Values prepared once: a writer then spends its time in the store, not building values.
VALUES = [checksummed(seed, 1024 * (1 + seed % 64)) for seed in range(32)]


def write_forever(stop):
    """Checksummed values under random keys until the worker stops: a worker killed at any
    instant is likely to die in the middle of a write, holding the store's lock."""
    rng = random.Random()
    while not stop.is_set():
        hornbeam.state_set(f"ck:{rng.randrange(200)}", rng.choice(VALUES))
        hornbeam.state_incr("writes")


if os.environ.get("HB_TEST_WRITE_FOREVER"):
    # Not a daemon thread: a subinterpreter (context_mode: owngil) refuses those. The thread
    # ends when the interpreter shuts down, before it is joined.
    writes_stop = threading.Event()
    threading._register_atexit(writes_stop.set)
    threading.Thread(target=write_forever, args=(writes_stop,)).start()


def handle(path, query):
    """(status, JSON-able body) for the routes both apps share."""
    if path == "/incr":
        for _ in range(int(query.get("n", "1"))):
            hornbeam.state_incr(query.get("key", "counter"))
        return 200, {"done": True}
    if path == "/get":
        return 200, {"value": hornbeam.state_get(query["key"])}
    if path == "/set":
        hornbeam.state_set(query["key"], query["value"])
        return 200, {"done": True}
    if path == "/checks":
        return 200, state_api_checks.run(hornbeam)
    if path == "/fill":
        # Stores `size`-byte values until the store is full; answers what StateFull said.
        hornbeam.state_set("keep", "kept")
        stored = 0
        try:
            while True:
                hornbeam.state_set(f"fill:{stored}", b"x" * int(query["size"]))
                stored += 1
        except hornbeam.StateFull as full:
            return 200, {"stored": stored, "message": str(full), "needed": full.needed,
                         "used": full.used, "capacity": full.capacity, "entries": full.entries,
                         "keep": hornbeam.state_get("keep"),
                         "last": hornbeam.state_get(f"fill:{stored}")}
    if path == "/timed":
        # One call, timed: what it returned or raised (StateUnavailable when Redis is away).
        started = time.monotonic()
        try:
            result = ["ok", {"incr": lambda: hornbeam.state_incr(query["key"]),
                             "get": lambda: hornbeam.state_get(query["key"]),
                             "keys": lambda: sorted(hornbeam.state_keys(query.get("key", ""))),
                             "info": hornbeam.state_info}[query["op"]]()]
        except Exception as error:  # noqa: BLE001 - the type is the answer
            result = ["raised", type(error).__name__, str(error)]
        return 200, {"result": result, "elapsed": time.monotonic() - started}
    if path == "/hello":
        return 200, {"hello": "no state used"}
    if path == "/churn":
        value = b"v" * 1024
        for i in range(int(query["n"])):
            hornbeam.state_set(f"churn:{i % 1000}", value)
            hornbeam.state_delete(f"churn:{i % 1000}")
        return 200, hornbeam.state_info()
    if path == "/verify":
        values = hornbeam.state_get_multi(hornbeam.state_keys("ck:"))
        torn = sorted(key for key, value in values.items() if not intact(value))
        return 200, {"checked": len(values), "torn": torn, "info": hornbeam.state_info()}
    return 404, {"error": "no such route"}


def app(environ, start_response):
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    status, body = handle(environ["PATH_INFO"], query)
    start_response(f"{status} X", [("Content-Type", "application/json"), ("X-Pid", str(os.getpid()))])
    return [json.dumps(body).encode()]


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    state = scope["state"]
    query = dict(parse_qsl(scope["query_string"].decode()))
    if scope["path"] == "/lifespan-state":
        for key, value in query.items():
            state[key] = value  # a request's write goes to every worker
        status, body = 200, {
            "config": state["config"],
            "flag": state.get("flag"),
            "pool_is_this_workers": state["pool"] is POOLS.get(os.getpid()),
            "pool_in_store": hornbeam.state_get("pool", "absent"),
        }
    else:
        status, body = handle(scope["path"], query)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"x-pid", str(os.getpid()).encode())]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


POOLS = {}


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Picklable: shared, and the first worker's value stays (later startups keep it).
            scope["state"]["config"] = {"booted_by": os.getpid()}
            # A lock does not pickle: every worker keeps its own.
            pool = POOLS.setdefault(os.getpid(), threading.Lock())
            scope["state"]["pool"] = pool
            hornbeam.state_incr("startups")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if "HB_TEST_SHUTDOWN_DIR" in os.environ:
                Path(os.environ["HB_TEST_SHUTDOWN_DIR"], str(os.getpid())).write_text("shutdown ran\n")
            await send({"type": "lifespan.shutdown.complete"})
            return
