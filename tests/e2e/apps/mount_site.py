"""A Flask app for the mount tests, and two plain ASGI apps with lifespans of their own."""

from flask import Flask, jsonify, request, url_for

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(script_name=request.environ["SCRIPT_NAME"], path_info=request.environ["PATH_INFO"],
                   link=url_for("index"))


def lifespan_app(name, fail=False):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if fail:
                        await send({"type": "lifespan.startup.failed", "message": f"{name} cannot start"})
                        return
                    scope["state"]["owner"] = name
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = f"{name}: {dict(scope.get('state', {}))} root_path={scope['root_path']} path={scope['path']}"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body.encode()})

    return app


first = lifespan_app("first")
second = lifespan_app("second")
failing = lifespan_app("failing", fail=True)
