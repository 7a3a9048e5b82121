"""Pub/sub through real workers: server-sent events from a WSGI app (`app`), each response
saying which worker served it (X-Pid)."""

import json
import os
from urllib.parse import parse_qsl

import hornbeam

PID = str(os.getpid()).encode()


def app(environ, start_response):
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    path = environ["PATH_INFO"]
    if path == "/events":
        # Server-sent events: a comment once subscribed, one event per message, a keep-alive
        # comment every half second without one (which also finds a client that left).
        subscription = hornbeam.subscribe(query["topic"], timeout=0.5)
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("X-Pid", PID.decode())])

        def stream():
            with subscription:
                yield b": subscribed\n\n"
                for item in subscription:
                    if item is None:
                        yield b": keep-alive\n\n"
                        continue
                    topic, message = item
                    yield f"event: {topic}\ndata: {json.dumps(message)}\n\n".encode()

        return stream()
    if path == "/publish":
        body = {"reached": hornbeam.publish(query["topic"], json.loads(query["message"])), "pid": os.getpid()}
    elif path == "/info":
        body = hornbeam.state_info()["pubsub"]
    else:
        start_response("404 Not Found", [])
        return [b""]
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Pid", PID.decode())])
    return [json.dumps(body).encode()]
