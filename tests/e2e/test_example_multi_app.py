"""examples/multi-app: Flask at `/`, FastAPI at `/api` (with a WebSocket) and a request hook
that wants a token, in one worker, from the example's own configuration."""


import requests

from conftest import SOURCE, websocket_reply

CONFIG = SOURCE / "examples" / "multi-app" / "hornbeam.yaml"
TOKEN = {"Authorization": "Bearer secret"}


def test_the_multi_app_example(start_worker):
    worker = start_worker(None, config=CONFIG)
    refused = requests.get(worker.url + "/")
    assert (refused.status_code, refused.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert requests.get(worker.url + "/api/items/7").status_code == 401
    assert requests.get(worker.url + "/", headers=TOKEN).text.startswith("Hello from Flask at /")
    assert requests.get(worker.url + "/about", headers=TOKEN).json()["served_by"] == "flask"
    item = requests.get(worker.url + "/api/items/7", headers=TOKEN).json()
    assert item == {"item_id": 7, "url": worker.url + "/api/items/7"}
    docs = requests.get(worker.url + "/api/docs", headers=TOKEN)
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text
    url = f"ws://127.0.0.1:{worker.port}/api/ws"
    assert websocket_reply(url) == 403
    assert websocket_reply(url, TOKEN) == "api echo: hi"
