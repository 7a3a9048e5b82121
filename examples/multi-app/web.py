"""The site, a Flask app at `/`: its links carry no prefix, the API's do."""

from flask import Flask, jsonify, url_for

app = Flask(__name__)


@app.get("/")
def index():
    return f"Hello from Flask at /, next to FastAPI at /api. This page: {url_for('index')}\n"


@app.get("/about")
def about():
    return jsonify(served_by="flask", script_name=url_for("index"))
