"""The one ASGI app every ASGI server runs in the benchmark: the WSGI app's three routes, and a
websocket echo at /ws."""

HELLO = b"Hello, World!"
BLOCK_64K = b"x" * 65536
HELLO_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]
BLOCK_HEADERS = [(b"content-type", b"application/octet-stream"), (b"content-length", b"65536")]


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "http":
        path = scope["path"]
        if path == "/64k":
            await send({"type": "http.response.start", "status": 200, "headers": BLOCK_HEADERS})
            await send({"type": "http.response.body", "body": BLOCK_64K})
        elif path == "/echo":
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/octet-stream"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": HELLO_HEADERS})
            await send({"type": "http.response.body", "body": HELLO})
    elif kind == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
    elif kind == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
