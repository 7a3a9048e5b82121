"""Apps for the own-GIL tests: which interpreter (and worker) serves a request, with a count
of its own and a sum in the shared state that every interpreter adds to."""

import json
import os
import time
from urllib.parse import parse_qs

import hornbeam

try:
    import _interpreters  # 3.13

    INTERPRETER = int(_interpreters.get_current()[0])
except ImportError:
    import _xxsubinterpreters  # 3.12

    INTERPRETER = int(_xxsubinterpreters.get_current())

SERVED_HERE = 0  # a global of this interpreter: own-GIL contexts do not share it


def answer(query):
    global SERVED_HERE
    SERVED_HERE += 1
    for _ in range(int(query.get("incr", ["0"])[0])):
        hornbeam.state_incr("sum")
    if "sleep" in query:
        time.sleep(float(query["sleep"][0]))
    return json.dumps({"pid": os.getpid(), "interpreter": INTERPRETER, "served_here": SERVED_HERE,
                       "sum": hornbeam.state_get("sum")}).encode()


def app(environ, start_response):
    body = answer(parse_qs(environ["QUERY_STRING"]))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    import asyncio
    query = parse_qs(scope["query_string"].decode())
    if "sleep" in query:
        await asyncio.sleep(float(query.pop("sleep")[0]))
    body = answer(query)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
