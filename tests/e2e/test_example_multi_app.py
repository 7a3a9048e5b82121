"""examples/multi-app: Flask at `/`, FastAPI at `/api` (with a WebSocket) and a request hook
that wants a token, in one worker, from the example's own configuration."""

import asyncio

import requests
import websockets

from conftest import SOURCE

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

    async def websocket(headers):
        try:
            async with websockets.connect(f"ws://127.0.0.1:{worker.port}/api/ws", extra_headers=headers) as ws:
                await ws.send("hi")
                return await ws.recv()
        except websockets.InvalidStatusCode as refused_handshake:
            return refused_handshake.status_code

    assert asyncio.run(websocket({})) == 403
    assert asyncio.run(websocket(TOKEN)) == "api echo: hi"
