"""Apps for the HTTP/2 tests: what a request over h2 looks like to WSGI and ASGI apps, and the
paths where flow control matters (a large upload, a large response)."""

import asyncio
import hashlib
import json
import os
import time
from urllib.parse import parse_qs

ENVIRON_KEYS = ("SERVER_PROTOCOL", "HTTP_HOST", "HTTP_COOKIE", "wsgi.url_scheme", "REQUEST_METHOD",
                "PATH_INFO", "QUERY_STRING", "CONTENT_LENGTH", "HTTP_X_CUSTOM", "REMOTE_ADDR",
                "REMOTE_PORT")


def touch(query, name):
    """Writes the file the test named in the query: how a test knows where the app is."""
    if name in query:
        with open(query[name][0], "a") as marker:
            marker.write(".")


def wsgi(environ, start_response):
    path = environ["PATH_INFO"]
    query = parse_qs(environ["QUERY_STRING"])
    if path == "/upload":
        touch(query, "started")
        if "wait_for" in query:  # the test lets the app read when it has looked
            while not os.path.exists(query["wait_for"][0]):
                time.sleep(0.01)
        digest, total = hashlib.sha256(), 0
        while piece := environ["wsgi.input"].read(65536):
            digest.update(piece)
            total += len(piece)
        body = f"{total} {digest.hexdigest()}".encode()
    elif path == "/stream":
        # n MiB, one MiB per yield, each yield counted in the `progress` file.
        chunks = int(query["n"][0])
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def generate():
            for index in range(chunks):
                touch(query, "progress")
                yield bytes([index % 256]) * (1 << 20)
        return generate()
    elif path == "/sleep":
        touch(query, "started")
        time.sleep(float(query["s"][0]))
        body = b"slept"
    elif path == "/file":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(query["path"][0], "rb"), 65536)
    else:
        body = json.dumps({key: environ.get(key) for key in ENVIRON_KEYS}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    if path == "/trailers":
        await send({"type": "http.response.start", "status": 200, "trailers": True,
                    "headers": [(b"content-type", b"text/plain"), (b"trailer", b"x-checksum")]})
        await send({"type": "http.response.body", "body": b"part one, ", "more_body": True})
        await send({"type": "http.response.body", "body": b"part two"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc123")]})
        return
    if path == "/sleep":
        await asyncio.sleep(float(parse_qs(scope["query_string"].decode())["s"][0]))
        body = b"slept"
    elif path == "/upload":
        digest, total = hashlib.sha256(), 0
        while True:
            message = await receive()
            digest.update(message.get("body", b""))
            total += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = f"{total} {digest.hexdigest()}".encode()
    else:
        body = json.dumps({"http_version": scope["http_version"], "scheme": scope["scheme"],
                           "method": scope["method"], "path": scope["path"],
                           "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
                           "extensions": sorted(scope.get("extensions", {}))}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
