"""A Flask app served by hornbeam: a form, JSON, a streamed response, a file download and a
page-hit counter shared by every worker."""

import os
import time

import hornbeam  # the server's shared state (outside it: PYTHONPATH=pylib, process-local)
from flask import Flask, Response, jsonify, request, send_file, stream_with_context, url_for

app = Flask(__name__)
HERE = os.path.dirname(os.path.abspath(__file__))


@app.get("/")
def index():
    return "Hello from Flask on hornbeam!\n"


@app.post("/form")
def form():
    name = request.form.get("name", "")
    return f"Hello, {name}! ({len(request.form)} fields)\n"


@app.get("/api/items/<int:item_id>")
def item(item_id):
    return jsonify(id=item_id, name=f"item {item_id}", tags=request.args.getlist("tag"))


@app.get("/links")
def links():
    """URLs made by the app: under a mount they carry its prefix (SCRIPT_NAME)."""
    return jsonify(item=url_for("item", item_id=7), absolute=url_for("item", item_id=7, _external=True))


@app.post("/api/echo")
def echo():
    return jsonify(received=request.get_json(), content_type=request.content_type)


@app.get("/stream")
def stream():
    count = int(request.args.get("count", "3"))
    delay = float(request.args.get("delay", "0"))

    def events():
        for number in range(count):
            yield f"data: event {number}\n\n"
            time.sleep(delay)

    return Response(stream_with_context(events()), mimetype="text/event-stream")


@app.get("/file")
def file():
    # send_file hands the open file to the server through wsgi.file_wrapper.
    return send_file(os.path.join(HERE, "static", "logo.txt"), mimetype="text/plain")


@app.get("/hits")
def hits():
    # One counter for all workers and threads, with no Redis: atomic across processes.
    return jsonify(hits=hornbeam.state_incr("flask:hits"), worker=os.getpid())
