"""Starlette patterns that lean on receive(): server-sent events that check
is_disconnected() between events, and a WebSocket read with a timeout."""

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket


def mark(request, text):
    path = request.query_params.get("marker")
    if path:
        with open(path, "a") as marker:
            marker.write(text + "\n")


async def events(request: Request):
    async def stream():
        sent = 0
        try:
            while not await request.is_disconnected():
                yield f"data: event {sent}\n\n"
                sent += 1
                await asyncio.sleep(0.02)
        finally:
            # Seen either way: by is_disconnected(), or by the response's own listener for the
            # disconnect, which cancels this generator.
            mark(request, f"stream ended after {sent} events")

    return StreamingResponse(stream(), media_type="text/event-stream")


async def echo_with_timeout(websocket: WebSocket):
    await websocket.accept()
    timeouts = 0
    while True:
        try:
            text = await asyncio.wait_for(websocket.receive_text(), 0.2)
        except asyncio.TimeoutError:
            timeouts += 1
            continue
        await websocket.send_text(f"{text} after {timeouts} timeouts")
        if text == "bye":
            await websocket.close()
            return


app = Starlette(routes=[Route("/events", events), WebSocketRoute("/ws", echo_with_timeout)])
