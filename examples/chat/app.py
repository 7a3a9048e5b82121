"""A chat room on Starlette whose messages and presence list work across workers (and, with
the Redis backend, across hosts): hornbeam's pub/sub carries the messages, its shared state
keeps who is in the room (docs/pubsub.md).

    WebSocket /ws/{room}?name=alice   sends {"text": ...}; receives every message of the room
    GET /rooms/{room}                 {"present": [...]}, from any worker
"""

import asyncio
import json
import os

import hornbeam
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

PAGE = """<!doctype html><meta charset="utf-8"><title>hornbeam chat</title>
<input id="name" placeholder="your name"> <button id="join">join</button>
<ul id="log"></ul><input id="text" placeholder="say something" disabled>
<script>
join.onclick = () => {
  const socket = new WebSocket(`ws://${location.host}/ws/lobby?name=${encodeURIComponent(name.value)}`);
  socket.onmessage = (event) => {
    const m = JSON.parse(event.data), item = document.createElement("li");
    item.textContent = m.text !== undefined ? `${m.from}: ${m.text}` : `${m.from} ${m.event}`;
    log.append(item);
  };
  text.disabled = false;
  text.onkeydown = (event) => {
    if (event.key === "Enter") { socket.send(JSON.stringify({text: text.value})); text.value = ""; }
  };
};
</script>"""


def present_key(room, name):
    return f"present:{room}:{name}"


def present(room):
    prefix = f"present:{room}:"
    counts = hornbeam.state_get_multi(hornbeam.state_keys(prefix))
    return sorted(key[len(prefix):] for key, count in counts.items() if count > 0)


async def page(request):
    return HTMLResponse(PAGE)


async def room(request):
    return JSONResponse({"present": present(request.path_params["room"])})


async def chat(websocket):
    room, name = websocket.path_params["room"], websocket.query_params.get("name", "anonymous")
    topic = f"room:{room}"
    await websocket.accept()
    await websocket.send_text(json.dumps({"event": "welcome", "from": "server", "worker": os.getpid()}))
    # Every message of the room, from any worker, goes to this client as it comes.
    forwarding = asyncio.create_task(hornbeam.forward_to_websocket(websocket.send, topic))
    await asyncio.sleep(0)  # subscribed before announcing
    hornbeam.state_incr(present_key(room, name))  # a count: the same name may have two tabs
    hornbeam.publish(topic, {"event": "joined", "from": name})
    try:
        while True:
            said = json.loads(await websocket.receive_text())
            hornbeam.publish(topic, {"from": name, "text": str(said.get("text", ""))[:2000]})
    except WebSocketDisconnect:
        pass
    finally:
        forwarding.cancel()
        # The count stays at 0 when the last tab leaves (present() skips it): deleting it
        # after the decrement would also delete a tab that joined in between.
        hornbeam.state_decr(present_key(room, name))
        hornbeam.publish(topic, {"event": "left", "from": name})


app = Starlette(routes=[
    Route("/", page),
    Route("/rooms/{room}", room),
    WebSocketRoute("/ws/{room}", chat),
])
