"""Apps named in the other forms an app spec takes: factories (`module:create_app(...)`, as
Gunicorn reads it) and ASGI 2 ("double callable") apps, as Uvicorn serves them; and apps given
the wrong `worker_class`, which must not boot."""

import json
import os

made = []  # what create_app was called with, in this process


def create_app(greeting="hello", *, loud=False):
    """A WSGI app factory: the response says how many apps this process made."""
    made.append(greeting)

    def app(environ, start_response):
        text = f"{greeting} from app {len(made)} of pid {os.getpid()}"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [(text.upper() if loud else text).encode()]

    return app


def create_asgi_app(name):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": f"{name} at {scope['root_path']}".encode()})

    return app


def returns_none():
    return None


def fails_to_make():
    raise RuntimeError("cannot reach the database")


not_a_factory = "a string"


class LegacyApp:
    """An ASGI 2 app: instantiated with the scope, then called with receive and send. Says
    what it saw, and whether its lifespan startup ran."""

    started = False

    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        kind = self.scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    LegacyApp.started = True
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            message = await receive()
            await send({"type": "websocket.send", "text": "legacy echo: " + message["text"]})
            await send({"type": "websocket.close"})
            return
        request = await receive()
        body = json.dumps({"path": self.scope["path"], "body": request["body"].decode(),
                           "started": LegacyApp.started}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


def legacy_function(scope):
    """An ASGI 2 app as a plain function returning the coroutine function."""
    async def instance(receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"legacy function"})
    return instance


def flask_app():
    from flask import Flask
    app = Flask(__name__)

    @app.route("/")
    def index():
        return "flask"

    return app


def fastapi_app():
    from fastapi import FastAPI
    app = FastAPI()

    @app.get("/")
    def index():
        return "fastapi"

    return app
