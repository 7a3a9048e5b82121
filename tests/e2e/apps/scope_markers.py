"""What the ASGI test apps share: the query of a scope, and the `marker` file through which an
app reports what the response cannot carry (the client is gone by then)."""

from urllib.parse import parse_qs


def query(scope):
    return {key: values[-1] for key, values in parse_qs(scope["query_string"].decode()).items()}


def mark(scope, text):
    path = query(scope).get("marker")
    if path:
        with open(path, "a") as marker:
            marker.write(text + "\n")


async def complete_lifespan(receive, send):
    """A lifespan that completes startup and shutdown and does nothing else."""
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return
